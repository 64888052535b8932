package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/axfrzone"
	"github.com/dcnet/dcnet/dns/httpapi"
	"github.com/dcnet/dcnet/dns/mesoszone"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/spartan"
	"github.com/dcnet/dcnet/dns/taskzone"
	"github.com/dcnet/dcnet/dns/vipzone"
)

// Mode is the name of this mode (dcnet-dns --mode).
const Mode = "node"

// Daemon is one node's dcnet-dns; New builds it, Run serves.
type Daemon struct {
	cfg     Config
	version string
	log     *slog.Logger
	// store is the cluster store; nil without Config.Etcd.
	store *cluster.Store
	res   *resolver.Resolver
	// listenIPs are the listen addresses' IPs (for the spartan link).
	listenIPs []netip.Addr
	// src polls the node's own Mesos state into sink; nil without one.
	src  *mesoszone.Source
	sink *mesoszone.Sink
	// mirrors are the etcd mirrors feeding the zones.
	mirrors []*cluster.Mirror
	// axfr polls Mesos-DNS's /v1/axfr into mesos.thisdcos.directory; nil
	// without Mesos-DNS servers (or with the node's own poll).
	axfr *axfrzone.Poller
}

// New validates cfg and builds the server: it connects the etcd client
// (without waiting for etcd), reads resolv.conf when no upstream is
// given, and reads the node's Mesos state once when Config.Mesos names
// one (a state file that cannot be read is an error). version is what
// /v1/version reports. Its errors are configuration errors.
func New(cfg Config, version string, log *slog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, version: version, log: log}
	if len(cfg.Etcd) > 0 {
		store, err := cluster.Connect(cluster.Options{Endpoints: cfg.Etcd})
		if err != nil {
			return nil, err
		}
		d.store = store
	}
	if err := d.build(); err != nil {
		d.close()
		return nil, err
	}
	if d.src != nil {
		if err := d.src.Prime(context.Background()); err != nil {
			d.close()
			return nil, err
		}
	}
	return d, nil
}

// build wires the zones: spartan, thisnode (with public.thisnode), l4lb
// (from etcd when there is a store), the task names (from the node's own
// Mesos state, else from etcd), mesos.thisdcos.directory (from the node's
// own Mesos state, else from Mesos-DNS's /v1/axfr), zk (the Mesos-DNS
// servers), localhost and, with a Mesos state, the mesos zone; then the
// --cname zones.
func (d *Daemon) build() error {
	listen, err := d.cfg.DNS.ListenAddrs()
	if err != nil {
		return err
	}
	for _, ap := range listen {
		d.listenIPs = append(d.listenIPs, ap.Addr())
	}
	ips, err := d.cfg.nodeIPs()
	if err != nil {
		return err
	}
	public, err := parseIPs("public ip", d.cfg.PublicIPs)
	if err != nil {
		return err
	}
	mesosZone := server.NewRecordSetZone(server.MesosZone, nil)
	taskSet := server.NewRecordSetZone(server.TaskZone, nil)
	var tasks server.Lister = taskSet
	var l4lb server.Lister = server.NewStaticZone(server.L4LBZone)
	d.sink = mesoszone.NewSink(d.log, d.cfg.Mesos.Records, mesosZone, taskSet, nil)
	if d.src, err = mesoszone.NewSource(d.cfg.Mesos, d.sink, d.log); err != nil {
		return err
	}
	if d.store != nil {
		vips, mirror := vipzone.Watch(d.store, d.log)
		if d.cfg.L4LBAddr != "" {
			vips.SetGate(vipzone.NewHTTPGate(d.cfg.L4LBAddr))
		}
		l4lb = vips
		d.mirrors = append(d.mirrors, mirror)
		if d.src == nil {
			tz, tmirror := taskzone.Watch(d.store, d.log)
			tasks = tz
			d.mirrors = append(d.mirrors, tmirror)
		}
	}
	var mesosDir server.Lister = server.NewRenamedZone(axfrzone.Zone, mesosZone)
	if d.src == nil {
		axfrSet := server.NewRecordSetZone(axfrzone.Zone, nil)
		mesosDir = axfrSet
		if urls := d.cfg.axfrURLs(); len(urls) > 0 {
			d.axfr = axfrzone.NewPoller(axfrzone.Config{URLs: urls, Refresh: d.cfg.AXFRRefresh}, axfrSet, d.log)
		}
	}
	local := []server.Lister{server.NewSpartan(d.listenIPs...), server.NewThisNodePublic(ips, public), tasks, l4lb,
		mesosDir, server.NewZK(serverIPs(d.cfg.DNS.MesosDNS)...), server.NewLocalhost()}
	if d.src != nil {
		local = append(local, mesosZone)
	}
	for _, c := range d.cfg.CNAMEs {
		local = append(local, c.Zone())
	}
	d.res, err = resolver.New(d.cfg.DNS, d.log, local...)
	return err
}

// close releases what New opened.
func (d *Daemon) close() {
	if d.sink != nil {
		d.sink.Stop()
	}
	if d.store != nil {
		d.store.Close()
	}
}

// Run serves until ctx ends or a listener fails, then releases what New
// opened; call it once. Its errors are not configuration errors.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, m := range d.mirrors {
		go m.Run(ctx)
	}
	if d.axfr != nil {
		go d.axfr.Run(ctx)
	}
	if d.src != nil {
		go func() {
			if err := d.src.Run(ctx); err != nil {
				d.log.Error("dcnet-dns: mesos state", "err", err)
			}
		}()
	}
	if link := d.cfg.SpartanLink; link != "" {
		added, err := spartan.Ensure(link, d.listenIPs)
		if err != nil {
			return fmt.Errorf("listen addresses on %s: %w", link, err)
		}
		if len(added) > 0 {
			d.log.Info("dcnet-dns: listen addresses added", "link", link, "addrs", added)
		}
	}
	if err := d.restrictRecursion(); err != nil {
		return err
	}
	if d.cfg.HTTPAddr != "" {
		var nodes httpapi.NodeLister
		if d.store != nil {
			nodes = d.store
		}
		api := httpapi.New(d.version, d.res.Metrics.HTTPHandler(), d.res.Zones...).Handler()
		if err := httpapi.Serve(ctx, d.log, d.cfg.HTTPAddr, httpapi.WithClusterRoutes(api, d.cfg.L4LBAddr, nodes)); err != nil {
			return err
		}
	}
	return d.res.Run(ctx, func() {
		d.log.Info("dcnet-dns: serving", "mode", Mode, "listen", strings.Join(d.cfg.DNS.Listen, ","), "http", d.cfg.HTTPAddr)
	})
}

// serverIPs are the addresses of "ip[:port]" servers, in order, without
// duplicates; others are left out.
func serverIPs(servers []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range servers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				continue
			}
			ip = ap.Addr()
		}
		if !slices.Contains(out, ip.Unmap()) {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// restrictRecursion serves the listen addresses that are not the node's
// cluster DNS addresses behind a RecursionGate: see restricted.
func (d *Daemon) restrictRecursion() error {
	var onLink []netip.Addr
	if d.cfg.SpartanLink != "" {
		var err error
		if onLink, err = spartan.LinkAddrs(d.cfg.SpartanLink); err != nil {
			return fmt.Errorf("listen addresses on %s: %w", d.cfg.SpartanLink, err)
		}
	}
	r := restricted(d.cfg.DNS.Listen, onLink)
	if len(r) > 0 {
		d.log.Info("dcnet-dns: forwarded names answered here only to this node and --recursion-net clients", "listen", strings.Join(r, ","), "recursion_nets", strings.Join(d.cfg.DNS.RecursionNets, ","))
	}
	d.res.Restrict(r)
	return nil
}

// restricted are the listen addresses on which forwarding is not offered
// to every client: all but the cluster DNS addresses, which are those on
// the spartan link (onLink: dcos-dns's 198.51.100.1-3, wherever the
// server put them) and loopback addresses. The node's underlay address, a
// wildcard and any other address answer the cluster zones to everyone
// and forwarded names only to --recursion-net clients and to the node
// itself (a client at that very address), so the node is never an open
// resolver there.
func restricted(listen []string, onLink []netip.Addr) []string {
	var out []string
	for _, l := range listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			continue
		}
		ip := ap.Addr().Unmap()
		if ip.IsLoopback() || slices.Contains(onLink, ip) {
			continue
		}
		out = append(out, l)
	}
	return out
}
