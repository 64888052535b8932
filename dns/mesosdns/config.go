package mesosdns

import (
	"errors"
	"math"
	"net"
	"strconv"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/mesoszone"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/server"
)

// Config is everything Mesos-DNS mode is set up with: the dcnet-dns flags
// land here (and Mesos-DNS's config.json will). Start from DefaultConfig.
// An empty address means none, as the flag that fills it does.
type Config struct {
	// DNS is the query path: listen addresses (default
	// dnsapi.DefaultMesosListen), upstreams for names outside mesos.,
	// forwarded zones, cache, sockets.
	DNS resolver.Config
	// HTTPAddr serves Mesos-DNS's HTTP API (--http-addr); default
	// dnsapi.DefaultMesosHTTPAddr, "" none.
	HTTPAddr string
	// Etcd are the etcd endpoints the elected master publishes the task
	// names to (--etcd-endpoints); none: no publishing.
	Etcd []string
	// Mesos is where the state comes from (Masters or StateFile, one is
	// required) and how records are generated. Mesos.Records.Masters
	// empty means the addresses of Mesos.Masters (masterN.mesos).
	Mesos mesoszone.Config
}

// DefaultConfig is Mesos-DNS mode's defaults (no masters yet).
func DefaultConfig() Config {
	dnsCfg := resolver.DefaultConfig()
	dnsCfg.Listen = []string{dnsapi.DefaultMesosListen}
	return Config{DNS: dnsCfg, HTTPAddr: dnsapi.DefaultMesosHTTPAddr, Mesos: mesoszone.DefaultConfig()}
}

// Validate checks every field and names the first wrong one with its
// value and what is allowed.
func (c Config) Validate() error {
	if !c.Mesos.Enabled() {
		return errors.New("mesos-dns mode needs --mesos-master URL (repeatable) or --mesos-state-file PATH")
	}
	if err := c.DNS.Validate(); err != nil {
		return err
	}
	return c.Mesos.Validate()
}

// WithDefaults returns c with every zero field that has a default set to
// it: what is in force.
func (c Config) WithDefaults() Config {
	c.DNS = c.DNS.WithDefaults()
	c.Mesos = c.Mesos.WithDefaults()
	if len(c.Mesos.Records.Masters) == 0 {
		c.Mesos.Records.Masters = c.Mesos.MasterAddrs()
	}
	return c
}

// MesosConfig is /v1/config: c with its defaults, in Mesos-DNS's terms.
// Durations are whole seconds, rounded up.
func (c Config) MesosConfig() dnsapi.MesosConfig {
	c = c.WithDefaults()
	rc := c.Mesos.Records
	soa := server.SOA(server.MesosZone)
	mc := dnsapi.MesosConfig{
		Masters:        rc.Masters,
		RefreshSeconds: int(math.Ceil(c.Mesos.Refresh.Seconds())),
		TTL:            server.TTL,
		Domain:         rc.Domain,
		Resolvers:      c.DNS.Upstreams,
		Timeout:        int(math.Ceil(c.DNS.Timeout.Seconds())),
		SOAMname:       soa.Ns,
		SOARname:       soa.Mbox,
		SOARefresh:     soa.Refresh,
		SOARetry:       soa.Retry,
		SOAExpire:      soa.Expire,
		SOAMinttl:      soa.Minttl,
		RecurseOn:      true,
		DNSOn:          true,
		HTTPOn:         c.HTTPAddr != "",
		ExternalOn:     true,
		EnforceRFC952:  rc.EnforceRFC952,
		IPSources:      rc.IPSources,
	}
	if mc.Masters == nil {
		mc.Masters = []string{}
	}
	if len(c.DNS.Listen) > 0 {
		if host, port, err := net.SplitHostPort(c.DNS.Listen[0]); err == nil {
			mc.Listener = host
			mc.Port, _ = strconv.Atoi(port)
		}
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err == nil {
		mc.HTTPPort, _ = strconv.Atoi(port)
	}
	return mc
}
