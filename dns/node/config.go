package node

import (
	"fmt"
	"net/netip"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/mesoszone"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/spartan"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// Config is everything node mode is set up with: the dcnet-dns flags
// land here (and a dcos-dns configuration file will). Start from
// DefaultConfig. An empty address or link name means none (the feature is
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
		Mesos:       mesoszone.DefaultConfig(),
	}
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
	for _, cn := range c.CNAMEs {
		if err := cn.Validate(); err != nil {
			return err
		}
	}
	return c.Mesos.Validate()
}

// nodeIPs parses NodeIPs.
func (c Config) nodeIPs() ([]netip.Addr, error) {
	var ips []netip.Addr
	for _, s := range c.NodeIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("node ip %q: %w", s, err)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}
