// Package resolver assembles the query path both modes of dcnet-dns serve
// and serves it: the local zones answered by server.Handler; every other
// name sent through forward's Router (the mesos. servers, the forwarded
// zones, else the default upstreams) behind the cache of forwarded
// answers; everything counted by package metrics; and the listeners
// (Config.Sockets SO_REUSEPORT sockets per address, the UDP fast path of
// cached answers).
//
// The daemons (dns/node, dns/mesosdns) build their zones, hand them to New
// and Run the result; only what differs between the modes stays in them.
package resolver

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/forward"
	"github.com/dcnet/dcnet/dns/metrics"
	"github.com/dcnet/dcnet/dns/server"
)

// Resolver is the wired query path: the handler to serve, its local zones
// and metrics, and the listeners' options.
type Resolver struct {
	// Handler answers every question: the local zones, else the cached
	// forwarders; counted by Metrics.
	Handler dns.Handler
	// Zones are the local zones, in the order given to New.
	Zones []server.Lister
	// Metrics counts queries, forwarded lookups and cache hits; its
	// HTTPHandler serves /metrics.
	Metrics *metrics.Metrics
	// Upstreams are the default upstreams in use (from the Config or
	// resolv.conf, minus the server's own addresses).
	Upstreams []string

	listen []string
	opts   server.Options
	// handler and nets make the RecursionGate of restricted addresses.
	handler *server.Handler
	nets    []netip.Prefix
}

// New wires cfg's forwarders, cache and metrics around the local zones.
// It validates cfg and reads cfg.ResolvConf when no upstream is given.
func New(cfg Config, log *slog.Logger, zones ...server.Lister) (*Resolver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	self, err := cfg.ListenAddrs()
	if err != nil {
		return nil, err
	}
	upstreams := append([]string(nil), cfg.Upstreams...)
	if len(upstreams) == 0 {
		if upstreams, err = forward.ReadResolvConf(cfg.ResolvConf); err != nil {
			return nil, err
		}
	}
	group := func(servers []string, port string) (*forward.Group, error) {
		servers = append([]string(nil), servers...)
		for i, s := range servers {
			if _, err := netip.ParseAddr(s); err == nil && port != "" {
				servers[i] = forward.JoinHostPort(s, port)
			}
		}
		return forward.New(forward.Config{Servers: servers, Self: self, Timeout: cfg.Timeout})
	}
	def, err := group(upstreams, "")
	if err != nil {
		return nil, err
	}
	routes := map[string]forward.Forwarder{}
	if len(cfg.MesosDNS) > 0 {
		g, err := group(cfg.MesosDNS, dnsapi.MesosDNSPort)
		if err != nil {
			return nil, err
		}
		routes[server.MesosZone] = g
	}
	for _, z := range cfg.ForwardZones {
		g, err := group(z.Servers, "")
		if err != nil {
			return nil, fmt.Errorf("forward zone %q: %w", z.Zone, err)
		}
		routes[z.Zone] = g
	}
	log.Info("dcnet-dns: upstreams", "default", strings.Join(def.Servers(), ","))
	c := cache.New(cache.Config{Size: cfg.CacheSize})
	apexes := make([]string, len(zones))
	zs := make([]server.Zone, len(zones))
	for i, z := range zones {
		apexes[i], zs[i] = z.Name(), z
	}
	m := metrics.New(apexes...)
	var fwd server.Forwarder = m.Lookups(c.Wrap(m.Upstream(forward.NewRouter(def, routes))))
	if cfg.NoForward {
		fwd = nil
	}
	h := server.NewHandler(log, fwd, zs...)
	h.ClearTruncated = cfg.ClearTruncated
	nets, err := cfg.recursionNets()
	if err != nil {
		return nil, err
	}
	r := &Resolver{Handler: m.Handler(h), Zones: zones, Metrics: m, Upstreams: def.Servers(),
		listen: cfg.Listen, opts: server.Options{Sockets: cfg.Sockets}, handler: h, nets: nets}
	if cfg.FastPath && !cfg.NoForward {
		r.opts.Fast = server.NewFastPath(h, c, m.FastAnswered)
		r.opts.Fast.SetLocalAnswered(m.LocalAnswered)
	}
	return r, nil
}

// Restrict serves the listen addresses addrs (as in Config.Listen) behind
// a server.RecursionGate: local zones for everyone, forwarded names only
// for clients in Config.RecursionNets or at the listen address itself
// (the host asking its own address), REFUSED (and counted) for the rest.
// Call it before Run.
func (r *Resolver) Restrict(addrs []string) {
	if len(addrs) == 0 {
		return
	}
	r.opts.Gates = map[string]server.Gate{}
	for _, a := range addrs {
		nets := r.nets
		if ap, err := netip.ParseAddrPort(a); err == nil && !ap.Addr().IsUnspecified() {
			ip := ap.Addr().Unmap()
			nets = append(slices.Clone(nets), netip.PrefixFrom(ip, ip.BitLen()))
		}
		g := &server.RecursionGate{Handler: r.handler, Nets: nets, Refused: r.Metrics.RecursionRefused}
		r.opts.Gates[a] = server.Gate{Handler: r.Metrics.Handler(g), Allow: g.Allowed}
	}
}

// Run serves the handler on the listen addresses until ctx ends; ready
// (if not nil) is called once every listener is bound. A bind failure is
// returned.
func (r *Resolver) Run(ctx context.Context, ready func()) error {
	return server.RunWith(ctx, r.listen, r.Handler, r.opts, ready)
}
