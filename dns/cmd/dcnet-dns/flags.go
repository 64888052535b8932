package main

import (
	"flag"
	"strings"
	"time"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/mesosdns"
	"github.com/dcnet/dcnet/dns/mesoszone"
	"github.com/dcnet/dcnet/dns/node"
	"github.com/dcnet/dcnet/dns/resolver"
)

// flags are dcnet-dns's command line. Only the flags given change the
// mode's DefaultConfig (so a configuration file read first keeps what no
// flag overrides); their defaults below are the same values, for -h.
type flags struct {
	fs                                           *flag.FlagSet
	mode, logLevel                               string
	listen, upstreams, mesosDNS, nodeIPs, etcd   listFlag
	masters                                      listFlag
	zones                                        []resolver.ForwardZone
	cnames                                       []node.CNAME
	httpAddr, resolvConf, stateFile, spartanLink string
	l4lbAddr, config                             string
	recursionNets, publicIPs, axfr               listFlag
	axfrRefresh                                  time.Duration
	timeout, refresh, mesosTimeout               time.Duration
	cacheSize, sockets                           int
	fastPath, subscribe                          bool
}

// newFlags defines the flags on fs.
func newFlags(fs *flag.FlagSet) *flags {
	f := &flags{fs: fs}
	nd := node.DefaultConfig()
	fs.StringVar(&f.mode, "mode", node.Mode, "node: the per-node server; mesos-dns: Mesos-DNS on a master")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.config, "config", "", "configuration file: Mesos-DNS's config.json in mesos-dns mode, dcos-dns's dcos-dns.json in node mode; flags override it")
	fs.Var(&f.recursionNets, "recursion-net", "client network (CIDR) that gets forwarded names answered on every address (repeatable; node mode answers others only on its cluster DNS addresses)")
	fs.StringVar(&f.httpAddr, "http-addr", "", "address of the HTTP API; empty: none (default "+nd.HTTPAddr+", in mesos-dns mode "+dnsapi.DefaultMesosHTTPAddr+")")
	fs.StringVar(&f.resolvConf, "resolv-conf", nd.DNS.ResolvConf, "resolv.conf to read upstreams from when --upstream is not given (empty: the default)")
	fs.StringVar(&f.stateFile, "mesos-state-file", "", "Mesos master state JSON, re-read every --refresh: serve the mesos zone and task names from it")
	fs.Var(&f.masters, "mesos-master", "Mesos master URL, http://ip:5050 (repeatable): poll its /master/state, following the leader")
	fs.DurationVar(&f.refresh, "refresh", nd.Mesos.Refresh, "interval between two reads of the Mesos state (0: the default)")
	fs.BoolVar(&f.subscribe, "mesos-subscribe", nd.Mesos.Subscribe, "with --mesos-master: hold a SUBSCRIBE event stream (operator API) to the leading master and read the state at each event, not only every --refresh")
	fs.DurationVar(&f.mesosTimeout, "mesos-timeout", nd.Mesos.Timeout, "timeout of one request to a Mesos master (0: the default)")
	fs.DurationVar(&f.timeout, "timeout", nd.DNS.Timeout, "timeout of one upstream query (0: the default)")
	fs.IntVar(&f.cacheSize, "cache-size", nd.DNS.CacheSize, "entries in the cache of forwarded answers (0: the default)")
	fs.IntVar(&f.sockets, "sockets", nd.DNS.Sockets, "UDP sockets and TCP listeners per listen address, with SO_REUSEPORT (0: GOMAXPROCS)")
	fs.BoolVar(&f.fastPath, "fast-path", nd.DNS.FastPath, "answer cached forwarded UDP questions straight from the socket readers")
	fs.Var(&f.listen, "listen", "ip:port to serve on, UDP and TCP (repeatable; default 198.51.100.1-3:53, in mesos-dns mode "+dnsapi.DefaultMesosListen+")")
	fs.Var(&f.upstreams, "upstream", "upstream resolver ip[:port] (repeatable)")
	fs.Var(&f.mesosDNS, "mesos-dns", "Mesos-DNS server ip[:port] for *.mesos (repeatable; port "+dnsapi.MesosDNSPort+")")
	fs.Func("forward-zone", "zone=ip[:port][;ip[:port]] forwarded to its servers (repeatable)", func(v string) error {
		return eachItem(v, func(s string) error {
			z, err := resolver.ParseForwardZone(s)
			if err == nil {
				f.zones = append(f.zones, z)
			}
			return err
		})
	})
	fs.Var(&f.nodeIPs, "node-ip", "this node's IP, for thisnode.thisdcos.directory (repeatable)")
	fs.Var(&f.publicIPs, "public-ip", "this node's public IP, for public.thisnode.thisdcos.directory (repeatable; node mode)")
	fs.Var(&f.axfr, "mesos-dns-axfr", "Mesos-DNS /v1/axfr URL for mesos.thisdcos.directory (repeatable; default http://<each --mesos-dns ip>:8123/v1/axfr; node mode)")
	fs.DurationVar(&f.axfrRefresh, "mesos-dns-refresh", nd.AXFRRefresh, "interval between two reads of Mesos-DNS's /v1/axfr (0: the default; node mode)")
	fs.Func("cname", "name=target: answer name with an authoritative CNAME to target (repeatable; node mode)", func(v string) error {
		return eachItem(v, func(s string) error {
			c, err := node.ParseCNAME(s)
			if err == nil {
				f.cnames = append(f.cnames, c)
			}
			return err
		})
	})
	fs.StringVar(&f.spartanLink, "spartan-link", nd.SpartanLink, "link that gets the listen addresses no link holds yet (dummy, else a port-less bridge); empty: none (node mode)")
	fs.StringVar(&f.l4lbAddr, "l4lb-addr", nd.L4LBAddr, "this node's dcnet-l4lb HTTP address: a VIP name is answered only once it has programmed the VIP (no answer there: names are served); empty: do not ask (node mode)")
	fs.Var(&f.etcd, "etcd-endpoints", "etcd endpoints (comma-separated): node mode serves l4lb.thisdcos.directory and the task names from etcd; mesos-dns mode publishes the task names")
	return f
}

// given reports which flags the command line set.
func (f *flags) given() map[string]bool {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// nodeConfig is node mode's Config: its defaults with the given flags.
func (f *flags) nodeConfig() node.Config { return f.applyNode(node.DefaultConfig()) }

// applyNode returns c (the defaults or a dcos-dns.json) with the given
// flags.
func (f *flags) applyNode(c node.Config) node.Config {
	set := f.given()
	f.applyDNS(set, &c.DNS)
	f.applyMesos(set, &c.Mesos)
	if set["http-addr"] {
		c.HTTPAddr = f.httpAddr
	}
	if set["spartan-link"] {
		c.SpartanLink = f.spartanLink
	}
	if set["l4lb-addr"] {
		c.L4LBAddr = f.l4lbAddr
	}
	if len(f.nodeIPs) > 0 {
		c.NodeIPs = f.nodeIPs
	}
	if len(f.cnames) > 0 {
		c.CNAMEs = f.cnames
	}
	if len(f.etcd) > 0 {
		c.Etcd = f.etcd
	}
	if len(f.publicIPs) > 0 {
		c.PublicIPs = f.publicIPs
	}
	if len(f.axfr) > 0 {
		c.AXFR = f.axfr
	}
	if set["mesos-dns-refresh"] {
		c.AXFRRefresh = f.axfrRefresh
	}
	return c
}

// mesosDNSConfig is Mesos-DNS mode's Config: its defaults with the given
// flags (the node-mode flags are ignored).
func (f *flags) mesosDNSConfig() mesosdns.Config { return f.applyMesosDNS(mesosdns.DefaultConfig()) }

// applyMesosDNS returns c (the defaults or a config.json) with the given
// flags.
func (f *flags) applyMesosDNS(c mesosdns.Config) mesosdns.Config {
	set := f.given()
	f.applyDNS(set, &c.DNS)
	f.applyMesos(set, &c.Mesos)
	if set["http-addr"] {
		c.HTTPAddr = f.httpAddr
	}
	if len(f.etcd) > 0 {
		c.Etcd = f.etcd
	}
	return c
}

// applyDNS sets the query path's fields of the given flags. An empty
// list is the default (--listen "" keeps the mode's addresses).
func (f *flags) applyDNS(set map[string]bool, c *resolver.Config) {
	if len(f.listen) > 0 {
		c.Listen = f.listen
	}
	if len(f.upstreams) > 0 {
		c.Upstreams = f.upstreams
	}
	if len(f.mesosDNS) > 0 {
		c.MesosDNS = f.mesosDNS
	}
	if len(f.zones) > 0 {
		c.ForwardZones = f.zones
	}
	if set["resolv-conf"] {
		c.ResolvConf = f.resolvConf
	}
	if set["timeout"] {
		c.Timeout = f.timeout
	}
	if set["cache-size"] {
		c.CacheSize = f.cacheSize
	}
	if set["sockets"] {
		c.Sockets = f.sockets
	}
	if set["fast-path"] {
		c.FastPath = f.fastPath
	}
	if len(f.recursionNets) > 0 {
		c.RecursionNets = f.recursionNets
	}
}

// applyMesos sets the Mesos state source's fields of the given flags.
func (f *flags) applyMesos(set map[string]bool, c *mesoszone.Config) {
	if len(f.masters) > 0 {
		c.Masters = f.masters
	}
	if set["mesos-state-file"] {
		c.UseStateFile(f.stateFile)
	}
	if set["refresh"] {
		c.Refresh = f.refresh
	}
	if set["mesos-subscribe"] {
		c.Subscribe = f.subscribe
	}
	if set["mesos-timeout"] {
		c.Timeout = f.mesosTimeout
	}
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set appends the comma-separated items of v.
func (l *listFlag) Set(v string) error {
	return eachItem(v, func(s string) error { *l = append(*l, s); return nil })
}

// eachItem calls fn with every non-empty comma-separated item of v,
// trimmed, and stops at its first error.
func eachItem(v string, fn func(string) error) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return nil
}
