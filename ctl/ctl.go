// Package ctl implements dcnetctl's commands: read-only views of a node's
// overlayd (status, networks, leases, endpoints), dcnet-l4lb (vips),
// dcnet-dns (records) and dcnet-l7lb (l7lb) printed as aligned tables or
// JSON; doctor, which checks them against the kernel and the store
// (package ctl/doctor); and the management of dcnet-l7lb's pools (pools).
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/ctl/doctor/collect"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/overlayd/api"
)

// Usage is the command summary.
const Usage = `usage: dcnetctl [--socket PATH] [-o table|json] [--etcd-endpoints URLS] COMMAND

commands:
  status      overlayd's node, store and networks
  networks    this node's overlays, bridges and subnets
  leases      this node's address allocations
  endpoints   the cluster's endpoint records (all nodes)
  nodes       the cluster's nodes: underlay, VTEP, subnets, liveness
  peers       what this node programs on its VTEP for every other node
  vips        the VIPs dcnet-l4lb programs on this node, with their backends
  records     the records dcnet-dns serves from its local zones
  node remove NAME
              remove a departed node: free its subnets and VTEP; every
              node drops its routes, neighbour and FDB entries
  doctor [--json] [--verbose] [--dns-listen ADDRS]
              compare what overlayd, dcnet-l4lb and dcnet-dns want with
              what the kernel and the store hold; print each difference
              with the command that shows it; exit 1 when one differs
  l7lb        dcnet-l7lb's status: sources, frontends, backends, problems
  pools create|update FILE, pools delete|show NAME, pools list
              dcnet-l7lb's Edge-LB-style pools (JSON or YAML documents)
`

// defaultTimeout bounds a command's requests (--timeout 0 means it too).
const defaultTimeout = 10 * time.Second

// Main runs dcnetctl with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dcnetctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", api.DefaultSocket, "overlayd API socket")
	output := fs.String("o", "table", "output format: table or json")
	timeout := fs.Duration("timeout", defaultTimeout, "request timeout (0: the default)")
	l4lbAddr := fs.String("l4lb", l4lbapi.DefaultAddr, "dcnet-l4lb's HTTP address (for vips)")
	dnsAddr := fs.String("dns", dnsapi.DefaultAddr, "dcnet-dns's HTTP address (for records)")
	var etcd cluster.Options
	endpoints := fs.String("etcd-endpoints", "", "comma-separated etcd endpoints (doctor; default: the store overlayd reports)")
	fs.StringVar(&etcd.CAFile, "etcd-cafile", "", "etcd CA certificate")
	fs.StringVar(&etcd.CertFile, "etcd-certfile", "", "etcd client certificate")
	fs.StringVar(&etcd.KeyFile, "etcd-keyfile", "", "etcd client key")
	l7lbAddr := fs.String("l7lb", l7lbapi.DefaultHTTPAddr, "dcnet-l7lb's HTTP address (for l7lb and pools)")
	fs.Usage = func() { fmt.Fprint(stderr, Usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 || (*output != "table" && *output != "json") {
		fs.Usage()
		return 2
	}
	if *timeout < 0 {
		fmt.Fprintf(stderr, "dcnetctl: --timeout %s: must not be negative (0: the default %s)\n", *timeout, defaultTimeout)
		return 2
	}
	if *timeout == 0 {
		*timeout = defaultTimeout
	}
	if *endpoints != "" {
		etcd.Endpoints = strings.Split(*endpoints, ",")
	}
	if fs.Arg(0) == "doctor" {
		return runDoctor(ctx, doctorConfig{socket: *socket, l4lb: *l4lbAddr, dns: *dnsAddr, etcd: etcd,
			timeout: *timeout, json: *output == "json"}, fs.Args()[1:], stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := api.NewClient(*socket)
	var v any
	var render func(io.Writer, any)
	var err error
	switch fs.Arg(0) {
	case "status":
		v, err = c.Status(ctx)
		render = renderStatus
	case "networks":
		v, err = c.Networks(ctx)
		render = renderNetworks
	case "leases":
		v, err = c.Attachments(ctx)
		render = renderLeases
	case "endpoints":
		v, err = c.Endpoints(ctx)
		render = renderEndpoints
	case "vips":
		v, err = (&collect.L4LB{Addr: *l4lbAddr}).Details(ctx)
		render = renderVIPs
	case "records":
		v, err = (&collect.DNS{Addr: *dnsAddr}).Records(ctx)
		render = renderRecords
	case "nodes":
		v, err = c.Nodes(ctx)
		render = renderNodes
	case "peers":
		v, err = c.Peers(ctx)
		render = renderPeers
	case "node":
		if fs.NArg() != 3 || fs.Arg(1) != "remove" {
			fmt.Fprintln(stderr, "dcnetctl: usage: dcnetctl node remove NAME")
			return 2
		}
		var n int
		n, err = c.RemoveNode(ctx, fs.Arg(2))
		v = map[string]any{"node": fs.Arg(2), "removed": n}
		render = func(w io.Writer, _ any) { fmt.Fprintf(w, "node %s removed (%d store keys)\n", fs.Arg(2), n) }
	case "l7lb":
		v, err = l7lbapi.NewClient(*l7lbAddr, nil).Status(ctx)
		render = renderL7Status
		err = l7lbHint(err)
	case "pools":
		v, render, err = poolsCommand(ctx, l7lbapi.NewClient(*l7lbAddr, nil), fs.Args()[1:])
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, poolsUsage)
			return 2
		}
		err = l7lbHint(err)
	default:
		fmt.Fprintf(stderr, "dcnetctl: unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if err != nil {
		if errors.Is(err, api.ErrUnreachable) {
			fmt.Fprintf(stderr, "dcnetctl: %v\n(pass --socket if overlayd runs with another --run-dir)\n", err)
		} else {
			fmt.Fprintf(stderr, "dcnetctl: %v\n", err)
		}
		return 1
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(v)
		return 0
	}
	render(stdout, v)
	return 0
}

func table(w io.Writer, header string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func renderStatus(w io.Writer, v any) {
	s := v.(api.Status)
	store := "ok"
	if !s.StoreOK {
		store = "error: " + s.StoreError
	}
	fmt.Fprintf(w, "node:         %s\nunderlay:     %s\nversion:      %s\nstarted:      %s\nstore:        %s (%s)\nattachments:  %d\npending:      %d endpoint records not yet in the store\n",
		s.Node, s.UnderlayIP, s.Version, s.Started.Format(time.RFC3339), s.Store, store, s.Attachments, max(s.PendingPublish, 0))
	fmt.Fprintf(w, "vtep:         %s vni %d port %d ip %s ip6 %s mac %s mtu %d\n", s.VTEP.Device, s.VTEP.VNI, s.VTEP.Port,
		dash(s.VTEP.IP), dash(s.VTEP.IP6), dash(s.VTEP.MAC), s.VTEP.MTU)
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "WARNING:      %s\n", warn)
	}
	fmt.Fprintln(w)
	renderNetworks(w, s.Networks)
}

func renderNetworks(w io.Writer, v any) {
	ns := v.([]api.Network)
	var rows [][]string
	for _, n := range ns {
		rows = append(rows, []string{n.Name, n.Bridge, fmt.Sprint(n.MTU), dash(n.NodeSubnet), dash(n.Gateway), dash(n.NodeSubnet6), dash(n.Gateway6)})
	}
	table(w, "NETWORK\tBRIDGE\tMTU\tSUBNET\tGATEWAY\tSUBNET6\tGATEWAY6", rows)
}

func renderLeases(w io.Writer, v any) {
	as := v.([]api.Attachment)
	var rows [][]string
	for _, a := range as {
		rows = append(rows, []string{a.Network, short(a.ContainerID), a.IfName, ips(a.IPs), dash(a.Runtime), a.Created.Format(time.RFC3339)})
	}
	table(w, "NETWORK\tCONTAINER\tIF\tADDRESSES\tRUNTIME\tCREATED", rows)
}

func renderEndpoints(w io.Writer, v any) {
	es := v.([]api.Endpoint)
	var rows [][]string
	for _, e := range es {
		rows = append(rows, []string{e.Node, e.Network, short(e.ContainerID), e.IfName, ips(e.IPs), labels(e.Labels), ports(e.PortMappings)})
	}
	table(w, "NODE\tNETWORK\tCONTAINER\tIF\tADDRESSES\tLABELS\tPORTS", rows)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortID is how much of a container ID tables show, as docker ps does.
const shortID = 12

func short(id string) string {
	if len(id) > shortID {
		return id[:shortID]
	}
	return id
}

func ips(cs []api.IPConfig) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Address)
	}
	return dash(strings.Join(out, ","))
}

func labels(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return dash(strings.Join(out, ","))
}

func ports(pms []api.PortMapping) string {
	var out []string
	for _, p := range pms {
		out = append(out, fmt.Sprintf("%d->%d/%s", p.HostPort, p.ContainerPort, p.Protocol))
	}
	return dash(strings.Join(out, ","))
}

func renderNodes(w io.Writer, v any) {
	ns := v.([]api.Node)
	var rows [][]string
	for _, n := range ns {
		alive := "alive"
		if !n.Alive {
			alive = "gone since " + n.Updated.Format(time.RFC3339)
		}
		var subnets []string
		for o, ss := range n.Subnets {
			subnets = append(subnets, o+"="+strings.Join(ss, "+"))
		}
		sort.Strings(subnets)
		rows = append(rows, []string{n.Name, dash(n.UnderlayIP), dash(n.VTEPIP), dash(n.VTEPIP6), dash(n.VTEPMAC), dash(strings.Join(subnets, ",")), alive})
	}
	table(w, "NODE\tUNDERLAY\tVTEP\tVTEP6\tVTEP MAC\tSUBNETS\tSTATE", rows)
}

func renderPeers(w io.Writer, v any) {
	ps := v.([]api.Peer)
	var rows [][]string
	for _, p := range ps {
		rows = append(rows, []string{p.Name, p.UnderlayIP, p.VTEPIP, dash(p.VTEPIP6), p.VTEPMAC, strings.Join(p.Subnets, ",")})
	}
	table(w, "PEER\tUNDERLAY (fdb dst)\tVTEP (neigh)\tVTEP6\tMAC\tROUTES", rows)
}

func renderVIPs(w io.Writer, v any) {
	d := v.(l4lbapi.Details)
	var rows [][]string
	for _, x := range d.VIPs {
		rows = append(rows, []string{x.VIP, x.Protocol, dash(x.Name), dash(x.State), backendList(x.Backends)})
	}
	for _, x := range d.Refused {
		rows = append(rows, []string{x.VIP, x.Protocol, "-", "REFUSED: address held by " + x.HeldBy + " since " + x.Since, backendList(x.Backends)})
	}
	table(w, "VIP\tPROTO\tNAME\tSTATE\tBACKENDS", rows)
}

func backendList(bs []l4lbapi.BackendInfo) string {
	var out []string
	for _, b := range bs {
		s := fmt.Sprintf("%s:%d@%s", b.IP, b.Port, dash(b.Node))
		switch {
		case !b.Active:
			s += "(node gone)"
		case b.Draining:
			s += "(draining)"
		}
		out = append(out, s)
	}
	return dash(strings.Join(out, ","))
}
