package node

import (
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"github.com/dcnet/dcnet/dns/axfrzone"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/mesoszone"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/spartan"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// Config is everything node mode is set up with: the dcnet-dns flags
// land here, after dcos-dns's dcos-dns.json when --config names one
// (LoadConfigFile). Start from DefaultConfig. An empty address or link name means none (the feature is
// off), as the flag that fills it does.
type Config struct {
	// DNS is the query path: listen addresses (default 198.51.100.1-3:53),
	// upstreams, Mesos-DNS servers, forwarded zones, cache, sockets.
	DNS resolver.Config
	// HTTPAddr serves the HTTP API (--http-addr); default
	// dnsapi.DefaultAddr, "" none.
	HTTPAddr string
	// SpartanLink gets the listen addresses no link holds yet
	// (--spartan-link); default spartan.DefaultLink, "" none.
	SpartanLink string
	// NodeIPs are this node's addresses, answered for
	// thisnode.thisdcos.directory (--node-ip).
	NodeIPs []string
	// PublicIPs are this node's public addresses, answered for
	// public.thisnode.thisdcos.directory (--public-ip; dcos-net reads them
	// from detect_ip_public).
	PublicIPs []string
	// AXFR are Mesos-DNS /v1/axfr URLs, read for the zone
	// mesos.thisdcos.directory (--mesos-dns-axfr); none means
	// http://<ip>:8123/v1/axfr of every DNS.MesosDNS server.
	AXFR []string
	// AXFRRefresh is the time between two reads of AXFR
	// (--mesos-dns-refresh); 0 means axfrzone.DefaultRefresh.
	AXFRRefresh time.Duration
	// CNAMEs are zones holding one CNAME each (--cname).
	CNAMEs []CNAME
	// L4LBAddr is this node's dcnet-l4lb HTTP API: a VIP name is answered
	// once it says the VIP is programmed (--l4lb-addr); default
	// l4lbapi.DefaultAddr, "" do not ask.
	L4LBAddr string
	// Etcd are the etcd endpoints (--etcd-endpoints): the VIP names, the
	// task names (unless Mesos names a state) and /v1/nodes come from
	// there; none: no etcd.
	Etcd []string
	// Mesos is the node's own poll of the Mesos state, for clusters
	// without etcd: it feeds the task names and serves the mesos. zone
	// locally. Off by default (no masters, no state file).
	Mesos mesoszone.Config
}

// DefaultConfig is node mode's defaults.
func DefaultConfig() Config {
	dnsCfg := resolver.DefaultConfig()
	dnsCfg.Listen = dnsapi.DefaultListen()
	return Config{
		DNS:         dnsCfg,
		HTTPAddr:    dnsapi.DefaultAddr,
		SpartanLink: spartan.DefaultLink,
		L4LBAddr:    l4lbapi.DefaultAddr,
		AXFRRefresh: axfrzone.DefaultRefresh,
		Mesos:       mesoszone.DefaultConfig(),
	}
}

// axfrURLs are the /v1/axfr URLs in force: AXFR, else those of the
// Mesos-DNS servers.
func (c Config) axfrURLs() []string {
	if len(c.AXFR) > 0 {
		return c.AXFR
	}
	var out []string
	for _, s := range c.DNS.MesosDNS {
		out = append(out, axfrzone.URL(s))
	}
	return out
}

// Validate checks every field and names the first wrong one with its
// value and what is allowed.
func (c Config) Validate() error {
	if err := c.DNS.Validate(); err != nil {
		return err
	}
	if _, err := c.nodeIPs(); err != nil {
		return err
	}
	if _, err := parseIPs("public ip", c.PublicIPs); err != nil {
		return err
	}
	for _, u := range c.AXFR {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("mesos-dns axfr %q: want http://ip:8123/v1/axfr", u)
		}
	}
	if c.AXFRRefresh < 0 {
		return fmt.Errorf("mesos-dns refresh %s: must not be negative (0: the default %s)", c.AXFRRefresh, axfrzone.DefaultRefresh)
	}
	for _, cn := range c.CNAMEs {
		if err := cn.Validate(); err != nil {
			return err
		}
	}
	return c.Mesos.Validate()
}

// nodeIPs parses NodeIPs.
func (c Config) nodeIPs() ([]netip.Addr, error) { return parseIPs("node ip", c.NodeIPs) }

// parseIPs parses addresses, naming what in errors.
func parseIPs(what string, list []string) ([]netip.Addr, error) {
	var ips []netip.Addr
	for _, s := range list {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, s, err)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}
