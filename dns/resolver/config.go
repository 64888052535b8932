package resolver

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
	"github.com/dcnet/dcnet/dns/forward"
)

// DefaultResolvConf is read for the upstreams when none are configured.
const DefaultResolvConf = "/etc/resolv.conf"

// maxSockets bounds Config.Sockets: each socket is a file descriptor and
// a reader goroutine per listen address and protocol.
const maxSockets = 1024

// Config is the query path of either mode: where it listens, where the
// names of no local zone go, and how answers are cached and served. A
// zero number means that field's default (documented on the field), as
// the dcnet-dns flag that fills it does; negative numbers are invalid.
type Config struct {
	// Listen are the addresses served, "ip:port", UDP and TCP (--listen);
	// at least one.
	Listen []string
	// Upstreams are the default upstream resolvers, "ip[:port]", port 53
	// when missing (--upstream); empty: the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read for the upstreams when Upstreams is empty
	// (--resolv-conf); "" means DefaultResolvConf.
	ResolvConf string
	// MesosDNS are the servers of the mesos. zone, "ip[:port]", port
	// dnsapi.MesosDNSPort when missing (--mesos-dns); empty: mesos. goes
	// to the upstreams like any other name.
	MesosDNS []string
	// ForwardZones are zones sent to servers of their own instead of the
	// upstreams (--forward-zone).
	ForwardZones []ForwardZone
	// Timeout bounds one upstream query (--timeout); 0 means
	// forward.DefaultTimeout.
	Timeout time.Duration
	// CacheSize bounds the entries of the cache of forwarded answers
	// (--cache-size); 0 means cache.DefaultSize.
	CacheSize int
	// Sockets is the number of UDP sockets and TCP listeners per listen
	// address, bound with SO_REUSEPORT (--sockets); 0 means GOMAXPROCS,
	// as for server.Options.
	Sockets int
	// FastPath answers cached forwarded UDP questions straight from the
	// socket readers (--fast-path).
	FastPath bool
	// RecursionNets are client networks, CIDRs, that get forwarded names
	// answered on every listen address (--recursion-net); on the addresses
	// the daemon restricts (Resolver.Restrict) other clients get REFUSED.
	RecursionNets []string
	// NoForward refuses every name outside the local zones (Mesos-DNS's
	// ExternalOn false).
	NoForward bool
	// ClearTruncated sends UDP answers cut to the client's size without TC
	// (Mesos-DNS's SetTruncateBit false).
	ClearTruncated bool
}

// ForwardZone is a zone forwarded to its own servers.
type ForwardZone struct {
	// Zone is the domain name, e.g. "corp.example.".
	Zone string
	// Servers are "ip[:port]", port 53 when missing; at least one.
	Servers []string
}

// DefaultConfig is the query path with every default but the listen
// addresses, which depend on the mode.
func DefaultConfig() Config {
	return Config{
		ResolvConf: DefaultResolvConf,
		Timeout:    forward.DefaultTimeout,
		CacheSize:  cache.DefaultSize,
		FastPath:   true,
	}
}

// ParseForwardZone reads the --forward-zone form
// "zone=ip[:port][;ip[:port]...]".
func ParseForwardZone(spec string) (ForwardZone, error) {
	name, servers, ok := strings.Cut(spec, "=")
	if !ok || name == "" {
		return ForwardZone{}, fmt.Errorf("forward zone %q: want zone=ip[:port][;ip[:port]]", spec)
	}
	return ForwardZone{Zone: name, Servers: strings.Split(servers, ";")}, nil
}

// WithDefaults returns c with its zero fields set to their defaults: what
// is in force.
func (c Config) WithDefaults() Config {
	if c.ResolvConf == "" {
		c.ResolvConf = DefaultResolvConf
	}
	if c.Timeout == 0 {
		c.Timeout = forward.DefaultTimeout
	}
	if c.CacheSize == 0 {
		c.CacheSize = cache.DefaultSize
	}
	return c
}

// ListenAddrs parses Listen.
func (c Config) ListenAddrs() ([]netip.AddrPort, error) {
	if len(c.Listen) == 0 {
		return nil, errors.New("listen: no address: give at least one ip:port")
	}
	out := make([]netip.AddrPort, 0, len(c.Listen))
	for _, l := range c.Listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			return nil, fmt.Errorf("listen %q: want ip:port: %w", l, err)
		}
		out = append(out, ap)
	}
	return out, nil
}

// recursionNets parses RecursionNets ("10.0.0.0/8"; a bare address is its
// own network).
func (c Config) recursionNets() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.RecursionNets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			ip, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("recursion net %q: want a CIDR such as 10.0.0.0/8: %w", s, err)
			}
			p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Validate checks every field and names the first wrong one with its
// value and what is allowed. It reads no file: ResolvConf is read by New.
func (c Config) Validate() error {
	if _, err := c.ListenAddrs(); err != nil {
		return err
	}
	for _, u := range c.Upstreams {
		if _, err := forward.ParseServer(u); err != nil {
			return err
		}
	}
	for _, s := range c.MesosDNS {
		if _, err := forward.ParseServer(s); err != nil {
			return fmt.Errorf("mesos-dns: %w", err)
		}
	}
	for _, z := range c.ForwardZones {
		if _, ok := dns.IsDomainName(z.Zone); !ok || z.Zone == "" {
			return fmt.Errorf("forward zone %q: not a domain name", z.Zone)
		}
		if len(z.Servers) == 0 {
			return fmt.Errorf("forward zone %q: no server", z.Zone)
		}
		for _, s := range z.Servers {
			if _, err := forward.ParseServer(s); err != nil {
				return fmt.Errorf("forward zone %q: %w", z.Zone, err)
			}
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout %s: must not be negative (0: the default %s)", c.Timeout, forward.DefaultTimeout)
	}
	if c.CacheSize < 0 {
		return fmt.Errorf("cache size %d: out of range [0, ...] (0: the default %d)", c.CacheSize, cache.DefaultSize)
	}
	if _, err := c.recursionNets(); err != nil {
		return err
	}
	if c.Sockets < 0 || c.Sockets > maxSockets {
		return fmt.Errorf("sockets %d: out of range [0, %d] (0: GOMAXPROCS)", c.Sockets, maxSockets)
	}
	return nil
}
