package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/httpapi"
	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/spartan"
	"github.com/dcnet/dcnet/dns/taskzone"
	"github.com/dcnet/dcnet/dns/vipzone"
)

// runNode runs the per-node server until ctx ends.
func runNode(ctx context.Context, log *slog.Logger, o options) error {
	var store *cluster.Store
	if len(o.etcd) > 0 {
		var err error
		store, err = cluster.Connect(cluster.Options{Endpoints: o.etcd})
		if err != nil {
			return configError{err}
		}
		defer store.Close()
	}
	n, err := buildNode(log, o, store)
	if err != nil {
		return configError{err}
	}
	for _, run := range n.mirrors {
		go run.Run(ctx)
	}
	if err := startPolling(ctx, log, o, n.poller); err != nil {
		return err
	}
	if o.spartanLink != "" {
		var want []netip.Addr
		for _, l := range o.listen {
			if ap, err := netip.ParseAddrPort(l); err == nil {
				want = append(want, ap.Addr())
			}
		}
		added, err := spartan.Ensure(o.spartanLink, want)
		if err != nil {
			return fmt.Errorf("listen addresses on %s: %w", o.spartanLink, err)
		}
		if len(added) > 0 {
			log.Info("dcnet-dns: listen addresses added", "link", o.spartanLink, "addrs", added)
		}
	}
	if o.httpAddr != "" {
		if err := serveHTTP(ctx, log, o.httpAddr, withClusterRoutes(httpapi.New(version, n.metrics.HTTPHandler(), n.zones...).Handler(), o.l4lbAddr, store)); err != nil {
			return err
		}
	}
	return server.RunWith(ctx, o.listen, n.handler, n.listen, func() {
		log.Info("dcnet-dns: serving", "mode", modeNode, "listen", o.listen.String(), "http", o.httpAddr)
	})
}

// nodeParts is the per-node server built from the flags.
type nodeParts struct {
	*wired
	// poller reads the Mesos state given by the flags; nil without one.
	poller *poll.Poller
	// mirrors are the etcd mirrors to run.
	mirrors []*cluster.Mirror
}

// buildNode wires the per-node zones: spartan, thisnode, l4lb (from etcd
// when store is set), the task names (from the polled Mesos state, else
// from etcd) and, with a Mesos state, the mesos zone; plus the --cname
// zones.
func buildNode(log *slog.Logger, o options, store *cluster.Store) (*nodeParts, error) {
	var selfIPs []netip.Addr
	for _, l := range o.listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			return nil, fmt.Errorf("listen %q: want ip:port: %w", l, err)
		}
		selfIPs = append(selfIPs, ap.Addr())
	}
	var ips []netip.Addr
	for _, s := range o.nodeIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("node ip %q: %w", s, err)
		}
		ips = append(ips, ip)
	}
	parts := &nodeParts{}
	mesosZone := server.NewRecordSetZone(server.MesosZone, nil)
	var tasks server.Lister = server.NewRecordSetZone(server.TaskZone, nil)
	var l4lb server.Lister = server.NewStaticZone(server.L4LBZone)
	sink := &mesosState{log: log, cfg: records.DefaultConfig(), mesos: mesosZone, tasks: tasks.(*server.RecordSetZone)}
	p, err := newPoller(o, log, sink)
	if err != nil {
		return nil, err
	}
	parts.poller = p
	if store != nil {
		vips, mirror := vipzone.Watch(store, log)
		if o.l4lbAddr != "" {
			vips.SetGate(vipzone.NewHTTPGate(o.l4lbAddr))
		}
		l4lb = vips
		parts.mirrors = append(parts.mirrors, mirror)
		if p == nil {
			tz, tmirror := taskzone.Watch(store, log)
			tasks = tz
			parts.mirrors = append(parts.mirrors, tmirror)
		}
	}
	local := []server.Lister{server.NewSpartan(selfIPs...), server.NewThisNode(ips...), tasks, l4lb}
	if p != nil {
		local = append(local, mesosZone)
	}
	cz, err := cnameZones(o.cnames)
	if err != nil {
		return nil, err
	}
	local = append(local, cz...)
	w, err := newHandler(log, o, local)
	if err != nil {
		return nil, err
	}
	parts.wired = w
	return parts, nil
}

// cnameZones are the --cname name=target zones: each holds one CNAME at
// its apex.
func cnameZones(specs []string) ([]server.Lister, error) {
	var out []server.Lister
	for _, s := range specs {
		name, target, ok := strings.Cut(s, "=")
		name, target = dns.CanonicalName(strings.TrimSpace(name)), dns.CanonicalName(strings.TrimSpace(target))
		if _, okName := dns.IsDomainName(name); !ok || !okName || name == "." {
			return nil, fmt.Errorf("cname %q: want name=target, name a domain name", s)
		}
		if _, okTarget := dns.IsDomainName(target); target == "." || !okTarget {
			return nil, fmt.Errorf("cname %q: target %q is not a domain name", s, target)
		}
		if name == target {
			return nil, fmt.Errorf("cname %q: name and target are the same", s)
		}
		rr := &dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: server.TTL}, Target: target}
		out = append(out, server.NewStaticZone(name, rr))
	}
	return out, nil
}
