package records

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/dcnet/dcnet/dns/mesos"
)

// IP sources a task's addresses can come from.
const (
	// SourceHost is the IP of the agent running the task.
	SourceHost = "host"
	// SourceMesos is the MesosContainerizer.NetworkSettings.IPAddress label.
	SourceMesos = "mesos"
	// SourceDocker is the Docker.NetworkSettings.IPAddress label.
	SourceDocker = "docker"
	// SourceNetinfo is container_status.network_infos[].ip_addresses.
	SourceNetinfo = "netinfo"
)

// DefaultDomain is the Mesos-DNS domain.
const DefaultDomain = "mesos"

// DefaultIPSources is Mesos-DNS's default IP source order.
var DefaultIPSources = []string{SourceNetinfo, SourceMesos, SourceHost}

// Config selects how records are generated.
type Config struct {
	// Domain is the zone, without dots at either end; default "mesos".
	Domain string
	// IPSources lists where task addresses come from, highest priority
	// first; default DefaultIPSources.
	IPSources []string
	// EnforceRFC952 selects 24-character labels without leading digits
	// instead of RFC 1123's 63-character labels.
	EnforceRFC952 bool
	// Masters are the configured masters, "ip:port", in masterN order. The
	// leader is added after them when it is not among them.
	Masters []string
	// SOAMname, with Listeners, adds A/AAAA records for the name server
	// named in the SOA (e.g. "ns1.mesos.").
	SOAMname string
	// Listeners are the addresses the name server answers on.
	Listeners []netip.Addr
	// LookupHost resolves agent and scheduler host names that are not IP
	// literals. Nil means such hosts get no records (generation stays pure).
	LookupHost func(host string) []netip.Addr
}

// DefaultConfig is the Mesos-DNS default configuration.
func DefaultConfig() Config {
	return Config{Domain: DefaultDomain, IPSources: append([]string(nil), DefaultIPSources...)}
}

// withDefaults fills empty fields with defaults.
func (c Config) withDefaults() Config {
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	if len(c.IPSources) == 0 {
		c.IPSources = append([]string(nil), DefaultIPSources...)
	}
	return c
}

// Spec is the label rule the configuration selects.
func (c Config) Spec() Spec {
	if c.EnforceRFC952 {
		return RFC952
	}
	return RFC1123
}

// Validate checks the configuration after defaults, naming the field and
// the allowed values.
func (c Config) Validate() error {
	c = c.withDefaults()
	d := strings.ToLower(c.Domain)
	if strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return fmt.Errorf("domain %q: want labels separated by single dots, no leading or trailing dot", c.Domain)
	}
	for _, l := range strings.Split(d, ".") {
		if RFC1123.Label(l) != l {
			return fmt.Errorf("domain %q: label %q must be 1-63 of [a-z0-9-], not starting or ending with '-'", c.Domain, l)
		}
	}
	seen := map[string]bool{}
	for _, s := range c.IPSources {
		switch s {
		case SourceHost, SourceMesos, SourceDocker, SourceNetinfo:
		default:
			return fmt.Errorf("ip source %q: want one of %q, %q, %q, %q", s, SourceHost, SourceMesos, SourceDocker, SourceNetinfo)
		}
		if seen[s] {
			return fmt.Errorf("ip source %q: listed twice", s)
		}
		seen[s] = true
	}
	for _, m := range c.Masters {
		host, _, err := mesos.SplitHostPort(m)
		if err != nil {
			return fmt.Errorf("master %q: want ip:port: %w", m, err)
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("master %q: host %q is not an IP address", m, host)
		}
	}
	if c.SOAMname == "" && len(c.Listeners) > 0 {
		return fmt.Errorf("soa mname: empty while %d listeners are set", len(c.Listeners))
	}
	return nil
}
