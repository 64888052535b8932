// Package ctl implements dcnetctl's commands: read-only views of a node's
// overlayd (status, networks, leases, endpoints) printed as aligned tables
// or JSON.
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

	"github.com/dcnet/dcnet/overlayd/api"
)

// Usage is the command summary.
const Usage = `usage: dcnetctl [--socket PATH] [-o table|json] COMMAND

commands:
  status      overlayd's node, store and networks
  networks    this node's overlays, bridges and subnets
  leases      this node's address allocations
  endpoints   the cluster's endpoint records (all nodes)
`

// Main runs dcnetctl with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dcnetctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", api.DefaultSocket, "overlayd API socket")
	output := fs.String("o", "table", "output format: table or json")
	timeout := fs.Duration("timeout", 10*time.Second, "request timeout")
	fs.Usage = func() { fmt.Fprint(stderr, Usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*output != "table" && *output != "json") {
		fs.Usage()
		return 2
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
	fmt.Fprintf(w, "node:         %s\nunderlay:     %s\nversion:      %s\nstarted:      %s\nstore:        %s (%s)\nattachments:  %d\npending:      %d endpoint records not yet in the store\n\n",
		s.Node, s.UnderlayIP, s.Version, s.Started.Format(time.RFC3339), s.Store, store, s.Attachments, max(s.PendingPublish, 0))
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
