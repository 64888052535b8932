// Package config is overlayd's configuration file: one JSON document, with
// DC/OS-compatible defaults applied before decoding and every field validated
// with a message naming the field, its value and what is allowed.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"time"
)

// Defaults (DC/OS-compatible).
const (
	DefaultOverlay     = "dcos"
	DefaultSubnet      = "9.0.0.0/8"
	DefaultPrefix      = 24
	DefaultOverlay6    = "dcos6"
	DefaultSubnet6     = "fd01:b::/64"
	DefaultPrefix6     = 80
	DefaultMTU         = 1420
	DefaultMetricsAddr = "127.0.0.1:62091"
	DefaultEtcdClient  = "http://127.0.0.1:2379"
	DefaultEtcdPeer    = "http://127.0.0.1:2380"
	DefaultLeaseTTL    = 15 * time.Second
	DefaultReconcile   = 10 * time.Second
	DefaultVTEPName    = "vtep1024"
	DefaultVNI         = 1024
	DefaultVTEPPort    = 64000
	DefaultVTEPSubnet  = "44.128.0.0/20"
	DefaultVTEPSubnet6 = "fd01:a::/64"
	DefaultGracePeriod = 7 * 24 * time.Hour
	// DefaultWithdrawWait bounds how long a container removal waits for
	// every dcnet-l4lb to stop choosing the container (WithdrawWait).
	DefaultWithdrawWait = 2 * time.Second
	maxVNI              = 1<<24 - 1
	maxPort             = 65535

	bridgePrefix  = "m-"
	maxIfNameLen  = 15 // IFNAMSIZ - 1
	minMTU        = 576
	maxMTU        = 9000
	minLeaseTTL   = 2 * time.Second
	minReconcile  = 100 * time.Millisecond
	maxOverlays   = 16
	maxPrefixLen4 = 30 // a /30 still leaves one container address
	maxPrefixLen6 = 126
)

// Duration is a time.Duration read from JSON as a string ("10s").
type Duration struct{ time.Duration }

// UnmarshalJSON accepts "10s"-style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string like \"10s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration like \"10s\": %w", err)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// AutoMTU is the value of an MTU written as "auto": overlayd uses the
// underlay link's MTU minus the VxLAN overhead.
const AutoMTU MTU = -1

// MTU is a container MTU: a number, or "auto".
type MTU int

// UnmarshalJSON accepts a number or the string "auto".
func (m *MTU) UnmarshalJSON(b []byte) error {
	if string(b) == `"auto"` {
		*m = AutoMTU
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a number or \"auto\", got %s", b)
	}
	*m = MTU(n)
	return nil
}

// MarshalJSON writes "auto" or the number.
func (m MTU) MarshalJSON() ([]byte, error) {
	if m == AutoMTU {
		return []byte(`"auto"`), nil
	}
	return json.Marshal(int(m))
}

// Overlay is one overlay network. Field names follow DC/OS's overlay config.
type Overlay struct {
	Name    string `json:"name"`
	Subnet  string `json:"subnet,omitempty"`  // IPv4 overlay range, e.g. 9.0.0.0/8
	Prefix  int    `json:"prefix,omitempty"`  // node subnet length inside Subnet, e.g. 24
	Subnet6 string `json:"subnet6,omitempty"` // IPv6 overlay range, e.g. fd01:b::/64
	Prefix6 int    `json:"prefix6,omitempty"` // node subnet length inside Subnet6, e.g. 80
	Bridge  string `json:"bridge,omitempty"`  // node bridge; default "m-<name>"
	MTU     MTU    `json:"mtu,omitempty"`     // container MTU; default 1420; "auto": underlay MTU - 50
	// Masquerade traffic from this overlay to destinations outside it; default true.
	Masquerade *bool `json:"masquerade,omitempty"`
}

// Prefix returns the parsed IPv4 overlay range (invalid when unset).
func (o Overlay) Prefix4() netip.Prefix { p, _ := netip.ParsePrefix(o.Subnet); return p }

// Prefix6Range returns the parsed IPv6 overlay range (invalid when unset).
func (o Overlay) Prefix6Range() netip.Prefix { p, _ := netip.ParsePrefix(o.Subnet6); return p }

// MasqueradeOn reports whether masquerade is enabled (default true).
func (o Overlay) MasqueradeOn() bool { return o.Masquerade == nil || *o.Masquerade }

// VTEP configures the node's VxLAN device and its address ranges.
type VTEP struct {
	Name    string `json:"name"`
	VNI     int    `json:"vni"`
	Port    int    `json:"port"`
	Subnet  string `json:"subnet"`  // VTEP IPv4 addresses, one per node
	Subnet6 string `json:"subnet6"` // VTEP IPv6 addresses (used when an overlay has subnet6)
	// NoTrack exempts the VxLAN UDP packets from connection tracking
	// (raw-table CT --notrack on the VTEP port); default true. Set it to
	// false when a host firewall matches the tunnel's packets by conntrack
	// state.
	NoTrack *bool `json:"noTrack,omitempty"`
}

// NoTrackOn reports whether VxLAN packets skip conntrack (default true).
func (v VTEP) NoTrackOn() bool { return v.NoTrack == nil || *v.NoTrack }

// Etcd says where the cluster store is.
type Etcd struct {
	// Endpoints of an external etcd cluster; empty means an embedded
	// single-member etcd in the state directory.
	Endpoints []string `json:"endpoints,omitempty"`
	CAFile    string   `json:"caFile,omitempty"`
	CertFile  string   `json:"certFile,omitempty"`
	KeyFile   string   `json:"keyFile,omitempty"`
	// ClientURL and PeerURL of the embedded etcd.
	ClientURL string `json:"clientURL,omitempty"`
	PeerURL   string `json:"peerURL,omitempty"`
}

// Config is overlayd's configuration file.
type Config struct {
	// NodeName defaults to the host name.
	NodeName string `json:"nodeName,omitempty"`
	// UnderlayIP is the node's address on the underlay network; default: the
	// source address of the route to the first etcd endpoint or the default route.
	UnderlayIP string    `json:"underlayIP,omitempty"`
	Overlays   []Overlay `json:"overlays"`
	Etcd       Etcd      `json:"etcd"`
	VTEP       VTEP      `json:"vtep"`
	// MetricsAddr serves Prometheus metrics; "" disables.
	MetricsAddr string `json:"metricsAddr"`
	// LeaseTTL of the node's liveness lease in the store.
	LeaseTTL Duration `json:"leaseTTL"`
	// ReconcileInterval between full reconciles of kernel state and store records.
	ReconcileInterval Duration `json:"reconcileInterval"`
	// NodeGracePeriod: a node without a liveness lease for longer loses its
	// subnets and VTEP (they go back to the pool).
	NodeGracePeriod Duration `json:"nodeGracePeriod"`
	// WithdrawWait bounds how long a withdraw (CNI DEL, Docker Leave)
	// waits for every dcnet-l4lb to have programmed the removal of the
	// endpoint record before the interface goes; 0 means
	// DefaultWithdrawWait, negative does not wait.
	WithdrawWait Duration `json:"withdrawWait"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Overlays: []Overlay{
			{Name: DefaultOverlay, Subnet: DefaultSubnet, Prefix: DefaultPrefix},
			{Name: DefaultOverlay6, Subnet6: DefaultSubnet6, Prefix6: DefaultPrefix6},
		},
		Etcd:              Etcd{ClientURL: DefaultEtcdClient, PeerURL: DefaultEtcdPeer},
		MetricsAddr:       DefaultMetricsAddr,
		LeaseTTL:          Duration{DefaultLeaseTTL},
		ReconcileInterval: Duration{DefaultReconcile},
		NodeGracePeriod:   Duration{DefaultGracePeriod},
		WithdrawWait:      Duration{DefaultWithdrawWait},
		VTEP: VTEP{Name: DefaultVTEPName, VNI: DefaultVNI, Port: DefaultVTEPPort,
			Subnet: DefaultVTEPSubnet, Subnet6: DefaultVTEPSubnet6},
	}
}

// Load reads, decodes and validates the file at path; "" means Default().
func Load(path string) (Config, error) {
	if path == "" {
		c := Default()
		c.applyDefaults()
		return c, c.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a configuration document. Unknown fields are
// errors, so a misspelt field is not silently ignored.
func Parse(data []byte) (Config, error) {
	c := Default()
	c.Overlays = nil
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, describeJSONError(data, err)
	}
	if dec.More() {
		return Config{}, errors.New("trailing data after the JSON object")
	}
	if c.Overlays == nil {
		c.Overlays = Default().Overlays
	}
	c.applyDefaults()
	return c, c.Validate()
}

func describeJSONError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("invalid JSON at line %d (byte %d): %v", line, se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return fmt.Errorf("decode: %w", err)
}

func (c *Config) applyDefaults() {
	for i := range c.Overlays {
		o := &c.Overlays[i]
		if o.Bridge == "" {
			o.Bridge = bridgePrefix + o.Name
		}
		if o.MTU == 0 {
			o.MTU = DefaultMTU
		}
	}
	if c.WithdrawWait.Duration == 0 {
		c.WithdrawWait.Duration = DefaultWithdrawWait
	}
	d := Default().VTEP
	if c.VTEP.Name == "" {
		c.VTEP.Name = d.Name
	}
	if c.VTEP.VNI == 0 {
		c.VTEP.VNI = d.VNI
	}
	if c.VTEP.Port == 0 {
		c.VTEP.Port = d.Port
	}
	if c.VTEP.Subnet == "" {
		c.VTEP.Subnet = d.Subnet
	}
	if c.VTEP.Subnet6 == "" {
		c.VTEP.Subnet6 = d.Subnet6
	}
	if c.Etcd.ClientURL == "" {
		c.Etcd.ClientURL = DefaultEtcdClient
	}
	if c.Etcd.PeerURL == "" {
		c.Etcd.PeerURL = DefaultEtcdPeer
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Validate checks every field and names the first wrong one.
func (c *Config) Validate() error {
	if c.NodeName != "" && !validNodeName(c.NodeName) {
		return fmt.Errorf("nodeName %q: want 1-63 characters of letters, digits, '-', '.', '_'", c.NodeName)
	}
	if c.UnderlayIP != "" {
		if _, err := netip.ParseAddr(c.UnderlayIP); err != nil {
			return fmt.Errorf("underlayIP %q: not an IP address", c.UnderlayIP)
		}
	}
	if len(c.Overlays) == 0 {
		return errors.New("overlays: at least one overlay is required")
	}
	if len(c.Overlays) > maxOverlays {
		return fmt.Errorf("overlays: %d given, at most %d allowed", len(c.Overlays), maxOverlays)
	}
	seen := map[string]bool{}
	bridges := map[string]bool{}
	var ranges []netip.Prefix
	for i, o := range c.Overlays {
		if err := o.validate(); err != nil {
			return fmt.Errorf("overlays[%d]: %w", i, err)
		}
		if seen[o.Name] {
			return fmt.Errorf("overlays[%d].name %q: used twice", i, o.Name)
		}
		seen[o.Name] = true
		if bridges[o.Bridge] {
			return fmt.Errorf("overlays[%d].bridge %q: used by two overlays", i, o.Bridge)
		}
		bridges[o.Bridge] = true
		for _, p := range []netip.Prefix{o.Prefix4(), o.Prefix6Range()} {
			if !p.IsValid() {
				continue
			}
			for _, q := range ranges {
				if p.Overlaps(q) {
					return fmt.Errorf("overlays[%d] (%s): range %s overlaps %s of another overlay", i, o.Name, p, q)
				}
			}
			ranges = append(ranges, p)
		}
	}
	if err := c.VTEP.validate(ranges); err != nil {
		return err
	}
	if err := c.Etcd.validate(); err != nil {
		return err
	}
	if c.NodeGracePeriod.Duration < c.LeaseTTL.Duration {
		return fmt.Errorf("nodeGracePeriod %s: must be at least leaseTTL (%s)", c.NodeGracePeriod, c.LeaseTTL)
	}
	if c.LeaseTTL.Duration < minLeaseTTL {
		return fmt.Errorf("leaseTTL %s: must be at least %s", c.LeaseTTL, minLeaseTTL)
	}
	if c.ReconcileInterval.Duration < minReconcile {
		return fmt.Errorf("reconcileInterval %s: must be at least %s", c.ReconcileInterval, minReconcile)
	}
	return nil
}

func validNodeName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func (o Overlay) validate() error {
	if !nameRE.MatchString(o.Name) || len(o.Name) > 32 {
		return fmt.Errorf("name %q: want 1-32 lower-case letters, digits and '-'", o.Name)
	}
	if o.Subnet == "" && o.Subnet6 == "" {
		return fmt.Errorf("overlay %q: set subnet (IPv4) or subnet6 (IPv6) or both", o.Name)
	}
	if o.Subnet != "" {
		if err := checkRange("subnet", o.Subnet, "prefix", o.Prefix, true); err != nil {
			return err
		}
	} else if o.Prefix != 0 {
		return fmt.Errorf("prefix %d: set only together with subnet", o.Prefix)
	}
	if o.Subnet6 != "" {
		if err := checkRange("subnet6", o.Subnet6, "prefix6", o.Prefix6, false); err != nil {
			return err
		}
	} else if o.Prefix6 != 0 {
		return fmt.Errorf("prefix6 %d: set only together with subnet6", o.Prefix6)
	}
	if len(o.Bridge) == 0 || len(o.Bridge) > maxIfNameLen {
		return fmt.Errorf("bridge %q: want 1-%d characters (a Linux interface name)", o.Bridge, maxIfNameLen)
	}
	if o.MTU != AutoMTU && (o.MTU < minMTU || o.MTU > maxMTU) {
		return fmt.Errorf("mtu %d: out of range [%d, %d] (or \"auto\")", o.MTU, minMTU, maxMTU)
	}
	return nil
}

func checkRange(field, value, prefixField string, prefix int, v4 bool) error {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return fmt.Errorf("%s %q: not a CIDR range", field, value)
	}
	if p.Addr().Is4() != v4 || p.Addr().Is4In6() {
		fam := "IPv6"
		if v4 {
			fam = "IPv4"
		}
		return fmt.Errorf("%s %q: want an %s range", field, value, fam)
	}
	if p.Masked() != p {
		return fmt.Errorf("%s %q: host bits set, did you mean %s?", field, value, p.Masked())
	}
	limit := maxPrefixLen4
	if !v4 {
		limit = maxPrefixLen6
	}
	if prefix <= p.Bits() || prefix > limit {
		return fmt.Errorf("%s %d: out of range [%d, %d] for %s %s", prefixField, prefix, p.Bits()+1, limit, field, value)
	}
	return nil
}

func (v VTEP) validate(overlays []netip.Prefix) error {
	if len(v.Name) == 0 || len(v.Name) > maxIfNameLen {
		return fmt.Errorf("vtep.name %q: want 1-%d characters (a Linux interface name)", v.Name, maxIfNameLen)
	}
	if v.VNI < 1 || v.VNI > maxVNI {
		return fmt.Errorf("vtep.vni %d: out of range [1, %d]", v.VNI, maxVNI)
	}
	if v.Port < 1 || v.Port > maxPort {
		return fmt.Errorf("vtep.port %d: out of range [1, %d]", v.Port, maxPort)
	}
	for _, f := range []struct {
		name, value string
		v4          bool
	}{{"vtep.subnet", v.Subnet, true}, {"vtep.subnet6", v.Subnet6, false}} {
		p, err := netip.ParsePrefix(f.value)
		if err != nil {
			return fmt.Errorf("%s %q: not a CIDR range", f.name, f.value)
		}
		if p.Addr().Is4() != f.v4 || p.Masked() != p || p.Bits() > p.Addr().BitLen()-2 {
			return fmt.Errorf("%s %q: want a masked %s range with room for addresses", f.name, f.value, map[bool]string{true: "IPv4", false: "IPv6"}[f.v4])
		}
		for _, o := range overlays {
			if o.Overlaps(p) {
				return fmt.Errorf("%s %s overlaps overlay range %s", f.name, p, o)
			}
		}
	}
	return nil
}

func (e Etcd) validate() error {
	for i, ep := range e.Endpoints {
		if ep == "" {
			return fmt.Errorf("etcd.endpoints[%d]: empty", i)
		}
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		return errors.New("etcd.certFile and etcd.keyFile: set both or neither")
	}
	return nil
}
