package mesosdns

import (
	"cmp"
	"errors"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/mesoszone"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/server"
)

// Config is everything Mesos-DNS mode is set up with: the dcnet-dns flags
// land here, after Mesos-DNS's config.json when --config names one
// (ConfigFromFile). Start from DefaultConfig. An empty address means none,
// as the flag that fills it does.
type Config struct {
	// DNS is the query path: listen addresses (default
	// dnsapi.DefaultMesosListen), upstreams for names outside the zone,
	// forwarded zones, cache, sockets.
	DNS resolver.Config
	// DNSOff serves no DNS (Mesos-DNS's DnsOn false); the HTTP API must
	// be on then.
	DNSOff bool
	// HTTPAddr serves Mesos-DNS's HTTP API (--http-addr); default
	// dnsapi.DefaultMesosHTTPAddr, "" none.
	HTTPAddr string
	// NoEnumeration leaves /v1/axfr out of the HTTP API (Mesos-DNS's
	// EnumerationOn false).
	NoEnumeration bool
	// Zone is how the zone answers: TTL, SOA, NS, SRV weight, RA. The zero
	// value answers as the cluster zones (TTL 5, SOA ns.spartan.).
	Zone server.Authority
	// Etcd are the etcd endpoints the elected master publishes the task
	// names to (--etcd-endpoints); none: no publishing.
	Etcd []string
	// Mesos is where the state comes from (Masters, Zk or StateFile, one
	// is required) and how records are generated (the zone is
	// Mesos.Records.Domain). Mesos.Records.Masters empty means the
	// addresses of Mesos.Masters (masterN.mesos).
	Mesos mesoszone.Config
	// File is the config.json read, if any (/v1/config's File).
	File string
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
		return errors.New("mesos-dns mode needs --mesos-master URL (repeatable) or --mesos-state-file PATH (or Masters or Zk in --config)")
	}
	if c.DNSOff && c.HTTPAddr == "" {
		return errors.New("DNS and HTTP both off: serve one of them (DnsOn, HttpOn, --http-addr)")
	}
	if !c.DNSOff {
		if err := c.DNS.Validate(); err != nil {
			return err
		}
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
	if c.Mesos.Records.Domain == "" {
		c.Mesos.Records.Domain = dnsapi.DefaultMesosConfig().Domain
	}
	return c
}

// ZoneName is the zone apex, fully qualified ("mesos.").
func (c Config) ZoneName() string {
	d := strings.ToLower(strings.Trim(c.Mesos.Records.Domain, "."))
	if d == "" {
		d = dnsapi.DefaultMesosConfig().Domain
	}
	return d + "."
}

// MesosConfig is /v1/config: c with its defaults, in Mesos-DNS's terms
// (the secret masked). Durations are whole seconds, rounded up.
func (c Config) MesosConfig() dnsapi.MesosConfig {
	c = c.WithDefaults()
	rc := c.Mesos.Records
	soa := server.SOA(c.ZoneName())
	z := c.Zone
	mc := dnsapi.MesosConfig{
		Masters:                rc.Masters,
		RefreshSeconds:         seconds(c.Mesos.Refresh.Seconds()),
		TTL:                    int32(cmp.Or(z.TTL, uint32(server.TTL))),
		Domain:                 strings.TrimSuffix(c.ZoneName(), "."),
		Resolvers:              c.DNS.Upstreams,
		ZoneResolvers:          map[string][]string{},
		Timeout:                seconds(c.DNS.Timeout.Seconds()),
		StateTimeoutSeconds:    seconds(c.Mesos.Timeout.Seconds()),
		ZkDetectionTimeout:     seconds(c.Mesos.ZkTimeout.Seconds()),
		Zk:                     c.Mesos.Zk,
		SOAMname:               dnsFqdn(cmp.Or(z.Mname, soa.Ns)),
		SOARname:               dnsFqdn(cmp.Or(z.Rname, soa.Mbox)),
		SOARefresh:             cmp.Or(z.Refresh, soa.Refresh),
		SOARetry:               cmp.Or(z.Retry, soa.Retry),
		SOAExpire:              cmp.Or(z.Expire, soa.Expire),
		SOAMinttl:              cmp.Or(z.TTL, soa.Minttl),
		SRVRecordDefaultWeight: z.SRVWeight,
		RecurseOn:              !z.NoRecursionAvailable,
		DNSOn:                  !c.DNSOff,
		HTTPOn:                 c.HTTPAddr != "",
		ExternalOn:             !c.DNS.NoForward,
		EnforceRFC952:          rc.EnforceRFC952,
		SetTruncateBit:         !c.DNS.ClearTruncated,
		EnumerationOn:          !c.NoEnumeration,
		IPSources:              rc.IPSources,
		MesosHTTPSOn:           c.Mesos.HTTPS,
		CACertFile:             c.Mesos.CAFile,
		CertFile:               c.Mesos.CertFile,
		KeyFile:                c.Mesos.KeyFile,
		File:                   c.File,
		MesosCredentials:       dnsapi.MesosCredentials{Principal: c.Mesos.Principal},
	}
	if c.Mesos.Principal != "" {
		mc.MesosAuthentication = dnsapi.MesosAuthBasic
		mc.MesosCredentials.Secret = "******"
	}
	for _, z := range c.DNS.ForwardZones {
		mc.ZoneResolvers[strings.TrimSuffix(z.Zone, ".")] = z.Servers
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
	if c.Mesos.Listener != "" {
		mc.Listener = c.Mesos.Listener
	}
	if host, port, err := net.SplitHostPort(c.HTTPAddr); err == nil {
		mc.HTTPListener = host
		mc.HTTPPort, _ = strconv.Atoi(port)
	}
	mc.IPSources = slices.Clone(mc.IPSources)
	return mc
}

// seconds is s rounded up to whole seconds.
func seconds(s float64) int { return int(math.Ceil(s)) }

// dnsFqdn adds the trailing dot.
func dnsFqdn(s string) string { return strings.TrimSuffix(s, ".") + "." }
