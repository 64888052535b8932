// Package netconf parses the network configuration that a container runtime
// hands the dcnet and dcnet-ipam CNI plugins on stdin: the standard CNI fields,
// dcnet's own fields ("network", "socket", "mtu", "hairpinMode", ipam
// "routes"), and the labels and port mappings that CNI runtimes (args.labels,
// runtimeConfig.portMappings) and Mesos (args["org.apache.mesos"]) inject.
//
// Every failure is a *types.Error: code 6 (ErrDecodingFailure) for input that
// is not JSON, code 7 (ErrInvalidNetworkConfig) for a field of the wrong type
// or value, code 1 for an unsupported cniVersion; the message names the field,
// the value and what is allowed.
package netconf

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/dcnet/dcnet/overlayd/api"
)

// Defaults and limits.
const (
	// LegacyVersion is the spec version of a config without "cniVersion"
	// (DC/OS writes them so); its results use the "ip4"/"ip6" format.
	LegacyVersion = "0.1.0"
	// DefaultHairpinMode lets a container reach itself through a VIP.
	DefaultHairpinMode = true
	// MinMTU and MaxMTU bound "mtu"; overlayd applies the same range.
	MinMTU = 576
	MaxMTU = 9000

	maxNetworkLen = 32
)

// networkRE is overlayd's overlay name syntax.
var networkRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Config is one parsed and validated network configuration.
type Config struct {
	CNIVersion string // LegacyVersion when the config has none
	Name       string
	Type       string
	// Network is the overlay in overlayd ("network", default "name").
	Network string
	// Socket is overlayd's API socket ("socket", default api.DefaultSocket).
	Socket string
	// MTU of both veth ends; 0 means the MTU overlayd reports (dcnet only).
	MTU int
	// HairpinMode of the host veth on the bridge (dcnet only).
	HairpinMode bool
	// Routes from the ipam section (dcnet-ipam only).
	Routes []*types.Route
	// Labels and PortMappings go to overlayd's endpoint record.
	Labels       map[string]string
	PortMappings []api.PortMapping
	// PrevResult is the parsed "prevResult", nil when absent.
	PrevResult *current.Result
	// ValidAttachments is "cni.dev/valid-attachments" of a GC call.
	ValidAttachments []types.GCAttachment
}

// common holds the fields both plugins read; defaults are set before decoding.
type common struct {
	CNIVersion       string               `json:"cniVersion"`
	Name             string               `json:"name"`
	Type             string               `json:"type"`
	Network          string               `json:"network"`
	Socket           string               `json:"socket"`
	IPAM             json.RawMessage      `json:"ipam"`
	Args             json.RawMessage      `json:"args"`
	RuntimeConfig    json.RawMessage      `json:"runtimeConfig"`
	PrevResult       json.RawMessage      `json:"prevResult"`
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments"`
}

// mainFields are the fields only the dcnet main plugin reads.
type mainFields struct {
	MTU         *int  `json:"mtu"`
	HairpinMode *bool `json:"hairpinMode"`
}

// ipamFields is the ipam section as dcnet-ipam reads it; it starts out with
// the top-level values, which the section overrides.
type ipamFields struct {
	Type    string     `json:"type"`
	Network string     `json:"network"`
	Socket  string     `json:"socket"`
	Routes  []rawRoute `json:"routes"`
}

type rawRoute struct {
	Dst string `json:"dst"`
	GW  string `json:"gw"`
}

// Parse reads the configuration of the dcnet main plugin.
func Parse(data []byte) (*Config, error) {
	c, raw, err := parseCommon(data)
	if err != nil {
		return nil, err
	}
	var m mainFields
	if err := Decode(data, &m, ""); err != nil {
		return nil, err
	}
	if len(raw.IPAM) > 0 && string(raw.IPAM) != "null" {
		var ipam ipamFields
		if err := Decode(raw.IPAM, &ipam, "ipam."); err != nil {
			return nil, err
		}
		if ipam.Type != "" {
			return nil, Invalid("ipam.type %q: dcnet allocates addresses through overlayd and runs no IPAM plugin; remove the ipam section", ipam.Type)
		}
	}
	if m.MTU != nil {
		if *m.MTU < MinMTU || *m.MTU > MaxMTU {
			return nil, Invalid("mtu %d out of range [%d, %d]; omit \"mtu\" to use overlayd's", *m.MTU, MinMTU, MaxMTU)
		}
		c.MTU = *m.MTU
	}
	c.HairpinMode = DefaultHairpinMode
	if m.HairpinMode != nil {
		c.HairpinMode = *m.HairpinMode
	}
	if err := c.finish(raw); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseIPAM reads the configuration of the dcnet-ipam plugin: "network" and
// "socket" may sit at top level or in the ipam section (the section wins),
// "routes" sits in the ipam section. Fields of the main plugin that delegates
// to it ("mtu", "bridge", ...) are not read.
func ParseIPAM(data []byte) (*Config, error) {
	c, raw, err := parseCommon(data)
	if err != nil {
		return nil, err
	}
	ipam := ipamFields{Network: raw.Network, Socket: raw.Socket}
	if len(raw.IPAM) > 0 && string(raw.IPAM) != "null" {
		if err := Decode(raw.IPAM, &ipam, "ipam."); err != nil {
			return nil, err
		}
	}
	raw.Network, raw.Socket = ipam.Network, ipam.Socket
	for i, r := range ipam.Routes {
		route, err := parseRoute(r)
		if err != nil {
			return nil, Invalid("ipam.routes[%d]: %v", i, err)
		}
		c.Routes = append(c.Routes, route)
	}
	if err := c.finish(raw); err != nil {
		return nil, err
	}
	return c, nil
}

// parseCommon decodes and checks the fields both plugins share.
func parseCommon(data []byte) (*Config, *common, error) {
	raw := &common{Socket: api.DefaultSocket}
	if err := Decode(data, raw, ""); err != nil {
		return nil, nil, err
	}
	if raw.CNIVersion == "" {
		raw.CNIVersion = LegacyVersion
	}
	if !slices.Contains(version.All.SupportedVersions(), raw.CNIVersion) {
		return nil, nil, types.NewError(types.ErrIncompatibleCNIVersion,
			fmt.Sprintf("cniVersion %q is not supported; use one of %v", raw.CNIVersion, version.All.SupportedVersions()), "")
	}
	if raw.Name == "" {
		return nil, nil, Invalid("name is missing: the network configuration needs a \"name\"")
	}
	return &Config{CNIVersion: raw.CNIVersion, Name: raw.Name, Type: raw.Type}, raw, nil
}

// finish validates network and socket and reads args, runtimeConfig and
// prevResult into c.
func (c *Config) finish(raw *common) error {
	c.Network = raw.Network
	from := "network"
	if c.Network == "" {
		c.Network, from = raw.Name, "name"
	}
	if !networkRE.MatchString(c.Network) || len(c.Network) > maxNetworkLen {
		return Invalid("network %q (from %q): want the overlay's name in overlayd, 1-%d lower-case letters, digits and '-'; set \"network\"",
			c.Network, from, maxNetworkLen)
	}
	c.Socket = raw.Socket
	if c.Socket == "" || !filepath.IsAbs(c.Socket) {
		return Invalid("socket %q: want the absolute path of overlayd's socket (default %s)", c.Socket, api.DefaultSocket)
	}
	var err error
	if c.Labels, c.PortMappings, err = parseArgs(raw.Args, raw.RuntimeConfig); err != nil {
		return err
	}
	if c.PrevResult, err = ParsePrevResult(raw.PrevResult, c.CNIVersion); err != nil {
		return err
	}
	c.ValidAttachments = raw.ValidAttachments
	return nil
}

// ParsePrevResult converts prevResult, written in version v, to the current
// result type (nil when absent; code 7 when it is not a result).
func ParsePrevResult(data json.RawMessage, v string) (*current.Result, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	r, err := create.Create(v, data)
	if err != nil {
		return nil, Invalid("prevResult: not a CNI %s result: %v", v, err)
	}
	res, err := current.NewResultFromResult(r)
	if err != nil {
		return nil, Invalid("prevResult: cannot convert from CNI %s: %v", v, err)
	}
	return res, nil
}

// Invalid is a code 7 error.
func Invalid(format string, a ...any) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf(format, a...), "")
}
