// Command dcnet-dns is the cluster DNS server. In the default mode "node"
// it is the per-node server (dcos-dns "spartan"): the cluster zones
// answered fresh, everything else forwarded through a cache. In mode
// "mesos-dns" it is Mesos-DNS on the masters: the mesos. zone from the
// polled Mesos master state on port 61053, its HTTP API on 8123, and the
// task names published to etcd for every node.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dcnet/dcnet/dns/cache"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/forward"
	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/spartan"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// version is reported by /v1/version; set with -ldflags "-X main.version=...".
var version = "dev"

// Modes.
const (
	modeNode     = "node"
	modeMesosDNS = "mesos-dns"
)

// defaultNodeListen are the per-node server's addresses.
var defaultNodeListen = []string{"198.51.100.1:53", "198.51.100.2:53", "198.51.100.3:53"}

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

// options are the parsed flags.
type options struct {
	mode                                                       string
	listen, upstreams, mesosDNS, zones, nodeIPs, etcd, masters listFlag
	cnames                                                     listFlag
	httpAddr, resolvConf, stateFile, spartanLink, l4lbAddr     string
	timeout, refresh, mesosTimeout                             time.Duration
	cacheSize, sockets                                         int
	fastPath, subscribe                                        bool
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.mode, "mode", modeNode, "node: the per-node server; mesos-dns: Mesos-DNS on a master")
	flag.StringVar(&o.httpAddr, "http-addr", "", "address of the HTTP API; empty: none (default "+dnsapi.DefaultAddr+", in mesos-dns mode "+dnsapi.DefaultMesosHTTPAddr+")")
	flag.StringVar(&o.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolv.conf to read upstreams from when --upstream is not given")
	flag.StringVar(&o.stateFile, "mesos-state-file", "", "Mesos master state JSON, re-read every --refresh: serve the mesos zone and task names from it")
	flag.Var(&o.masters, "mesos-master", "Mesos master URL, http://ip:5050 (repeatable): poll its /master/state, following the leader")
	flag.DurationVar(&o.refresh, "refresh", poll.DefaultInterval, "interval between two reads of the Mesos state")
	flag.BoolVar(&o.subscribe, "mesos-subscribe", true, "with --mesos-master: hold a SUBSCRIBE event stream (operator API) to the leading master and read the state at each event, not only every --refresh")
	flag.DurationVar(&o.mesosTimeout, "mesos-timeout", poll.DefaultTimeout, "timeout of one request to a Mesos master")
	flag.DurationVar(&o.timeout, "timeout", forward.DefaultTimeout, "timeout of one upstream query")
	flag.IntVar(&o.cacheSize, "cache-size", cache.DefaultSize, "entries in the cache of forwarded answers")
	flag.IntVar(&o.sockets, "sockets", 0, "UDP sockets and TCP listeners per listen address, with SO_REUSEPORT (0: GOMAXPROCS)")
	flag.BoolVar(&o.fastPath, "fast-path", true, "answer cached forwarded UDP questions straight from the socket readers")
	flag.Var(&o.listen, "listen", "ip:port to serve on, UDP and TCP (repeatable; default 198.51.100.1-3:53, in mesos-dns mode "+dnsapi.DefaultMesosListen+")")
	flag.Var(&o.upstreams, "upstream", "upstream resolver ip[:port] (repeatable)")
	flag.Var(&o.mesosDNS, "mesos-dns", "Mesos-DNS server ip[:port] for *.mesos (repeatable; port "+dnsapi.MesosDNSPort+")")
	flag.Var(&o.zones, "forward-zone", "zone=ip[:port][;ip[:port]] forwarded to its servers (repeatable)")
	flag.Var(&o.nodeIPs, "node-ip", "this node's IP, for thisnode.thisdcos.directory (repeatable)")
	flag.Var(&o.cnames, "cname", "name=target: answer name with an authoritative CNAME to target (repeatable; node mode)")
	flag.StringVar(&o.spartanLink, "spartan-link", spartan.DefaultLink, "link that gets the listen addresses no link holds yet (dummy, else a port-less bridge); empty: none (node mode)")
	flag.StringVar(&o.l4lbAddr, "l4lb-addr", l4lbapi.DefaultAddr, "this node's dcnet-l4lb HTTP address: a VIP name is answered only once it has programmed the VIP (no answer there: names are served); empty: do not ask (node mode)")
	flag.Var(&o.etcd, "etcd-endpoints", "etcd endpoints (comma-separated): node mode serves l4lb.thisdcos.directory and the task names from etcd; mesos-dns mode publishes the task names")
	flag.Parse()
	httpSet := false
	flag.Visit(func(f *flag.Flag) { httpSet = httpSet || f.Name == "http-addr" })
	switch o.mode {
	case modeMesosDNS:
		if len(o.listen) == 0 {
			o.listen = listFlag{dnsapi.DefaultMesosListen}
		}
		if !httpSet {
			o.httpAddr = dnsapi.DefaultMesosHTTPAddr
		}
	default:
		if len(o.listen) == 0 {
			o.listen = append(listFlag(nil), defaultNodeListen...)
		}
		if !httpSet {
			o.httpAddr = dnsapi.DefaultAddr
		}
	}
	return o
}

func main() {
	o := parseFlags()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch o.mode {
	case modeNode:
		err = runNode(ctx, log, o)
	case modeMesosDNS:
		err = runMesosDNS(ctx, log, o)
	default:
		err = configError{fmt.Errorf("mode %q: want %s or %s", o.mode, modeNode, modeMesosDNS)}
	}
	if err != nil {
		log.Error("dcnet-dns", "mode", o.mode, "err", err)
		var ce configError
		if errors.As(err, &ce) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// configError is a problem with the flags (exit status 2).
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

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
