// Command dcnet-dns is the per-node cluster DNS server (dcos-dns
// "spartan"): the cluster zones answered fresh, everything else forwarded
// through a cache.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/dcnet/dcnet/dns/spartan"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
	"github.com/dcnet/dcnet/dns/forward"
	"github.com/dcnet/dcnet/dns/httpapi"
	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/metrics"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/vipzone"
	"github.com/dcnet/dcnet/overlayd/cluster"
)

// version is reported by /v1/version; set with -ldflags "-X main.version=...".
var version = "dev"

// defaultHTTPAddr is where the HTTP API listens.
const defaultHTTPAddr = "127.0.0.1:62080"

// mesosDNSPort is the port of Mesos-DNS on the masters.
const mesosDNSPort = "61053"

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func main() {
	var listen, upstreams, mesosDNS, zones, nodeIPs, etcd listFlag
	httpAddr := flag.String("http-addr", defaultHTTPAddr, "address of the HTTP API (/v1/..., /metrics); empty: none")
	resolvConf := flag.String("resolv-conf", "/etc/resolv.conf", "resolv.conf to read upstreams from when --upstream is not given")
	stateFile := flag.String("mesos-state-file", "", "Mesos master state JSON: serve the mesos zone and task names from it")
	timeout := flag.Duration("timeout", forward.DefaultTimeout, "timeout of one upstream query")
	cacheSize := flag.Int("cache-size", cache.DefaultSize, "entries in the cache of forwarded answers")
	flag.Var(&listen, "listen", "ip:port to serve on, UDP and TCP (repeatable; default 198.51.100.1-3:53)")
	flag.Var(&upstreams, "upstream", "upstream resolver ip[:port] (repeatable)")
	flag.Var(&mesosDNS, "mesos-dns", "Mesos-DNS server ip[:port] for *.mesos (repeatable; port "+mesosDNSPort+")")
	flag.Var(&zones, "forward-zone", "zone=ip[:port][;ip[:port]] forwarded to its servers (repeatable)")
	flag.Var(&nodeIPs, "node-ip", "this node's IP, for thisnode.thisdcos.directory (repeatable)")
	spartanLink := flag.String("spartan-link", spartan.DefaultLink, "link that gets the listen addresses no link holds yet (dummy, else a port-less bridge); empty: none")
	flag.Var(&etcd, "etcd-endpoints", "etcd endpoints (comma-separated): serve l4lb.thisdcos.directory from the named VIP records")
	flag.Parse()
	if len(listen) == 0 {
		listen = listFlag{"198.51.100.1:53", "198.51.100.2:53", "198.51.100.3:53"}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var vips *vipzone.Zone
	if len(etcd) > 0 {
		store, err := cluster.Connect(cluster.Options{Endpoints: etcd})
		if err != nil {
			log.Error("dcnet-dns: configure", "err", err)
			os.Exit(2)
		}
		defer store.Close()
		var mirror *cluster.Cache
		vips, mirror = vipzone.Watch(store, log)
		go mirror.Run(ctx)
	}
	s, err := build(log, listen, upstreams, mesosDNS, zones, nodeIPs, *resolvConf, *stateFile, *timeout, *cacheSize, vips)
	if err != nil {
		log.Error("dcnet-dns: configure", "err", err)
		os.Exit(2)
	}
	if *spartanLink != "" {
		var want []netip.Addr
		for _, l := range listen {
			if ap, err := netip.ParseAddrPort(l); err == nil {
				want = append(want, ap.Addr())
			}
		}
		added, err := spartan.Ensure(*spartanLink, want)
		if err != nil {
			log.Error("dcnet-dns: listen addresses", "link", *spartanLink, "err", err)
			os.Exit(1)
		}
		if len(added) > 0 {
			log.Info("dcnet-dns: listen addresses added", "link", *spartanLink, "addrs", added)
		}
	}
	if *httpAddr != "" {
		if err := serveHTTP(ctx, log, *httpAddr, httpapi.New(version, s.metrics.HTTPHandler(), s.zones...).Handler()); err != nil {
			log.Error("dcnet-dns: http", "err", err)
			os.Exit(1)
		}
	}
	err = server.Run(ctx, listen, s.handler, func() { log.Info("dcnet-dns: serving", "listen", listen.String(), "http", *httpAddr) })
	if err != nil {
		log.Error("dcnet-dns: serve", "err", err)
		os.Exit(1)
	}
}

// serveHTTP listens on addr and serves h until ctx ends.
func serveHTTP(ctx context.Context, log *slog.Logger, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: httpReadTimeout}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("dcnet-dns: http serve", "addr", addr, "err", err)
		}
	}()
	return nil
}

// httpReadTimeout bounds reading an HTTP request's header.
const httpReadTimeout = 5 * time.Second

// wired is the server built from the flags.
type wired struct {
	handler dns.Handler
	zones   []server.Lister
	metrics *metrics.Metrics
}

// build wires the zones, forwarders, cache and metrics into a handler.
func build(log *slog.Logger, listen, upstreams, mesosDNS, zones, nodeIPs listFlag, resolvConf, stateFile string, timeout time.Duration, cacheSize int, vips *vipzone.Zone) (*wired, error) {
	var self []netip.AddrPort
	var selfIPs []netip.Addr
	for _, l := range listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			return nil, fmt.Errorf("listen %q: want ip:port: %w", l, err)
		}
		self, selfIPs = append(self, ap), append(selfIPs, ap.Addr())
	}
	var ips []netip.Addr
	for _, s := range nodeIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("node ip %q: %w", s, err)
		}
		ips = append(ips, ip)
	}
	mesosZone := server.NewRecordSetZone(server.MesosZone, nil)
	taskZone := server.NewRecordSetZone(server.TaskZone, nil)
	var l4lb server.Lister = server.NewStaticZone(server.L4LBZone)
	if vips != nil {
		l4lb = vips
	}
	local := []server.Lister{server.NewSpartan(selfIPs...), server.NewThisNode(ips...), taskZone, l4lb}
	if stateFile != "" {
		if err := loadState(stateFile, mesosZone, taskZone); err != nil {
			return nil, err
		}
		local = append(local, mesosZone)
	}
	if len(upstreams) == 0 {
		rc, err := forward.ReadResolvConf(resolvConf)
		if err != nil {
			return nil, err
		}
		upstreams = rc
	}
	group := func(servers []string, port string) (*forward.Group, error) {
		for i, s := range servers {
			if _, err := netip.ParseAddr(s); err == nil && port != "" {
				servers[i] = forward.JoinHostPort(s, port)
			}
		}
		return forward.New(forward.Config{Servers: servers, Self: self, Timeout: timeout})
	}
	def, err := group(upstreams, "")
	if err != nil {
		return nil, err
	}
	routes := map[string]forward.Forwarder{}
	if len(mesosDNS) > 0 {
		g, err := group(mesosDNS, mesosDNSPort)
		if err != nil {
			return nil, err
		}
		routes[server.MesosZone] = g
	}
	for _, z := range zones {
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
	c := cache.New(cache.Config{Size: cacheSize})
	var apexes []string
	zs := make([]server.Zone, len(local))
	for i, z := range local {
		apexes, zs[i] = append(apexes, z.Name()), z
	}
	m := metrics.New(apexes...)
	fwd := m.Lookups(c.Wrap(m.Upstream(forward.NewRouter(def, routes))))
	return &wired{handler: m.Handler(server.NewHandler(log, fwd, zs...)), zones: local, metrics: m}, nil
}

// loadState serves the Mesos-DNS records and task names of a state file.
func loadState(path string, mesosZone, taskZone *server.RecordSetZone) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("mesos state: %w", err)
	}
	defer f.Close()
	st, err := mesos.ParseState(f)
	if err != nil {
		return fmt.Errorf("mesos state %s: %w", path, err)
	}
	rs, err := records.Generate(st, records.DefaultConfig())
	if err != nil {
		return fmt.Errorf("mesos records from %s: %w", path, err)
	}
	tn, err := records.TaskNames(st, records.DefaultConfig())
	if err != nil {
		return fmt.Errorf("task names from %s: %w", path, err)
	}
	mesosZone.Set(&rs)
	taskZone.Set(&tn)
	return nil
}
