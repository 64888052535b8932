package vipaccess

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/dcnet/dcnet/dns/dnsapi"
)

// Defaults.
const (
	// DefaultInterface is the container end's name (dcos-l4lb's).
	DefaultInterface = "spartan"
	// ipamName names the host-local pool, shared by every config on the
	// node: one address per container link.
	ipamName = "dcnet-vipaccess"
	// DefaultRouteMetric makes the link's default route lose to any
	// default route of the network itself.
	DefaultRouteMetric = 4096
	legacyVersion      = "0.1.0"
)

// The link's address pool and routes: dcos-cni's spartan network and
// DC/OS's named VIP ranges.
var (
	poolSubnet  = netip.MustParsePrefix("198.51.100.0/24")
	poolStart   = netip.MustParseAddr("198.51.100.10")
	poolEnd     = netip.MustParseAddr("198.51.100.253")
	v6Prefix    = netip.MustParsePrefix("fd01:d::/96")
	vipRanges4  = netip.MustParsePrefix("11.0.0.0/8")
	vipRanges6  = netip.MustParsePrefix("fd01:c::/64")
	gateway4    = netip.MustParseAddr("169.254.1.1")
	gateway6    = netip.MustParseAddr("fe80::1")
	ifNameRE    = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
	defaultDNS4 = dnsapi.DefaultListen()
)

// Config is the plugin's network configuration.
type Config struct {
	types.NetConf
	// Delegate is the network's own plugin (DC/OS's shape); nil: chained.
	Delegate map[string]any `json:"delegate,omitempty"`
	// Args are copied to the delegate (Mesos' network_info).
	Args map[string]any `json:"args,omitempty"`
	// Interface is the container end of the link (DefaultInterface).
	Interface string `json:"interface,omitempty"`
	// DNS are dcnet-dns's addresses, routed through the link (default the
	// node server's, 198.51.100.1-3).
	DNS []string `json:"dns,omitempty"`
	// IPv6 gives the link an IPv6 address and routes (default true).
	IPv6 *bool `json:"ipv6,omitempty"`
	// DefaultRoute adds the link's default route (default true), which
	// IP VIPs outside the named ranges need.
	DefaultRoute *bool `json:"defaultRoute,omitempty"`
	// DataDir is host-local's directory ("": its default).
	DataDir string `json:"dataDir,omitempty"`

	dns []netip.Addr
}

// ParseConfig decodes and validates a configuration; errors are CNI
// errors naming the field.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "dcnet-vipaccess: decode config: "+err.Error(), "")
	}
	if c.CNIVersion == "" {
		c.CNIVersion = legacyVersion
	}
	if c.Interface == "" {
		c.Interface = DefaultInterface
	}
	if !ifNameRE.MatchString(c.Interface) {
		return nil, invalid("interface %q: want a link name of 1-15 letters, digits, '-', '_' or '.'", c.Interface)
	}
	dns := c.DNS
	if len(dns) == 0 {
		dns = defaultDNS4
	}
	for i, s := range dns {
		host := s
		if ap, err := netip.ParseAddrPort(s); err == nil {
			host = ap.Addr().String()
		}
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || a.Zone() != "" {
			return nil, invalid("dns[%d] %q: want an IP address", i, s)
		}
		c.dns = append(c.dns, a.Unmap())
	}
	if c.Delegate != nil {
		if t, _ := c.Delegate["type"].(string); t == "" {
			return nil, invalid("delegate.type: want the network's plugin, e.g. \"bridge\"")
		}
	}
	return &c, nil
}

func invalid(format string, args ...any) error {
	return types.NewError(types.ErrInvalidNetworkConfig, "dcnet-vipaccess: "+fmt.Sprintf(format, args...), "")
}

func (c *Config) ipv6() bool         { return c.IPv6 == nil || *c.IPv6 }
func (c *Config) defaultRoute() bool { return c.DefaultRoute == nil || *c.DefaultRoute }

// delegateConf is the delegate's config: its own fields with the outer
// config's cniVersion, name and args, as dcos-l4lb passes them.
func (c *Config) delegateConf() ([]byte, string, error) {
	d := make(map[string]any, len(c.Delegate)+3)
	for k, v := range c.Delegate {
		d[k] = v
	}
	d["cniVersion"], d["name"] = c.CNIVersion, c.Name
	if c.Args != nil {
		d["args"] = c.Args
	}
	b, err := json.Marshal(d)
	t, _ := c.Delegate["type"].(string)
	return b, t, err
}

// ipamConf is host-local's config for the link's pool.
func (c *Config) ipamConf() []byte {
	r := map[string]any{"subnet": poolSubnet.String(), "rangeStart": poolStart.String(), "rangeEnd": poolEnd.String()}
	ipam := map[string]any{"type": "host-local", "ranges": [][]any{{r}}}
	if c.DataDir != "" {
		ipam["dataDir"] = c.DataDir
	}
	b, _ := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": ipamName, "ipam": ipam})
	return b
}
