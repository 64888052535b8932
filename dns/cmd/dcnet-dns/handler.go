package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/forward"
	"github.com/dcnet/dcnet/dns/metrics"
	"github.com/dcnet/dcnet/dns/server"
)

// wired is the server built from the flags.
type wired struct {
	handler dns.Handler
	zones   []server.Lister
	metrics *metrics.Metrics
	// forwarder sends the names of no local zone upstream.
	forwarder server.Forwarder
	// listen are the listeners' options: sockets per address and the UDP
	// fast path of cached forwarded answers.
	listen server.Options
}

// newHandler wires the local zones, forwarders, cache and metrics into a
// handler.
func newHandler(log *slog.Logger, o options, local []server.Lister) (*wired, error) {
	var self []netip.AddrPort
	for _, l := range o.listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			return nil, fmt.Errorf("listen %q: want ip:port: %w", l, err)
		}
		self = append(self, ap)
	}
	upstreams := append(listFlag(nil), o.upstreams...)
	if len(upstreams) == 0 {
		rc, err := forward.ReadResolvConf(o.resolvConf)
		if err != nil {
			return nil, err
		}
		upstreams = rc
	}
	group := func(servers []string, port string) (*forward.Group, error) {
		servers = append([]string(nil), servers...)
		for i, s := range servers {
			if _, err := netip.ParseAddr(s); err == nil && port != "" {
				servers[i] = forward.JoinHostPort(s, port)
			}
		}
		return forward.New(forward.Config{Servers: servers, Self: self, Timeout: o.timeout})
	}
	def, err := group(upstreams, "")
	if err != nil {
		return nil, err
	}
	routes := map[string]forward.Forwarder{}
	if len(o.mesosDNS) > 0 {
		g, err := group(o.mesosDNS, dnsapi.MesosDNSPort)
		if err != nil {
			return nil, err
		}
		routes[server.MesosZone] = g
	}
	for _, z := range o.zones {
		name, servers, ok := strings.Cut(z, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("forward zone %q: want zone=ip[:port][;ip[:port]]", z)
		}
		g, err := group(strings.Split(servers, ";"), "")
		if err != nil {
			return nil, fmt.Errorf("forward zone %q: %w", name, err)
		}
		routes[name] = g
	}
	log.Info("dcnet-dns: upstreams", "default", strings.Join(def.Servers(), ","))
	c := cache.New(cache.Config{Size: o.cacheSize})
	var apexes []string
	zs := make([]server.Zone, len(local))
	for i, z := range local {
		apexes, zs[i] = append(apexes, z.Name()), z
	}
	m := metrics.New(apexes...)
	fwd := m.Lookups(c.Wrap(m.Upstream(forward.NewRouter(def, routes))))
	h := server.NewHandler(log, fwd, zs...)
	w := &wired{handler: m.Handler(h), zones: local, metrics: m, forwarder: fwd,
		listen: server.Options{Sockets: o.sockets}}
	if w.listen.Sockets <= 0 {
		w.listen.Sockets = runtime.GOMAXPROCS(0)
	}
	if o.fastPath {
		w.listen.Fast = server.NewFastPath(h, c, m.FastAnswered)
	}
	return w, nil
}
