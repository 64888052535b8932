package portmap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/dcnet/dcnet/plugins/netconf"
)

// Defaults and limits of the configuration.
const (
	// LegacyVersion is the spec version of a config without "cniVersion",
	// as Mesos reads it (results in the "ip4"/"ip6" format).
	LegacyVersion = "0.1.0"
	// DefaultStateDir holds the plugin's durable state (portmap.db).
	DefaultStateDir = "/var/lib/dcnet/portmap"
	// DefaultChain is the chain of a config that names none (CNI chained
	// style; Mesos' port mapper requires "chain").
	DefaultChain = "DCNET-HOSTPORTS"

	maxChainLen = 28 // iptables' limit, kept so names stay valid everywhere
	maxDevLen   = 15 // IFNAMSIZ - 1
	maxPort     = 65535
	mesosArgs   = "org.apache.mesos"
)

// chainRE is the syntax of "chain": what iptables and nft both accept.
var chainRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Config is one parsed and validated dcnet-portmap configuration.
type Config struct {
	CNIVersion string // LegacyVersion when the config has none
	Name       string
	// Chain names the config's chain in the dcnet-portmap tables; its rules
	// skip traffic from ExcludeDevices.
	Chain          string
	ExcludeDevices []string
	// Localhost also maps the host ports on 127.0.0.1 for the node's own
	// processes (IPv4 only; sets route_localnet on the container's bridge).
	Localhost bool
	// StateDir holds the durable state (default DefaultStateDir).
	StateDir string
	// Delegate is the delegate's configuration, with "name" and "args"
	// copied in as Mesos' port mapper does; nil in chained style.
	Delegate []byte
	// DelegateType is the delegate's "type", the binary found in CNI_PATH.
	DelegateType string
	// DelegateVersion is the cniVersion the delegate answers in.
	DelegateVersion string
	// Mappings are runtimeConfig.portMappings followed by Mesos'
	// network_info.port_mappings, without duplicates.
	Mappings []Mapping
	// PrevResult is the parsed "prevResult" (chained style), nil when absent.
	PrevResult *current.Result
	// ValidAttachments is "cni.dev/valid-attachments" of a GC call.
	ValidAttachments []types.GCAttachment
}

// rawConfig is the config as decoded; defaults are set before decoding.
type rawConfig struct {
	CNIVersion       string               `json:"cniVersion"`
	Name             string               `json:"name"`
	Chain            string               `json:"chain"`
	ExcludeDevices   []json.RawMessage    `json:"excludeDevices"`
	Localhost        bool                 `json:"localhost"`
	StateDir         string               `json:"stateDir"`
	Delegate         json.RawMessage      `json:"delegate"`
	Args             json.RawMessage      `json:"args"`
	RuntimeConfig    json.RawMessage      `json:"runtimeConfig"`
	PrevResult       json.RawMessage      `json:"prevResult"`
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments"`
}

// rawArgs is the part of "args" the plugin reads.
type rawArgs struct {
	Mesos struct {
		NetworkInfo struct {
			PortMappings []struct {
				HostPort      int    `json:"host_port"`
				ContainerPort int    `json:"container_port"`
				Protocol      string `json:"protocol"`
			} `json:"port_mappings"`
		} `json:"network_info"`
	} `json:"org.apache.mesos"`
}

// rawRuntime carries the "portMappings" capability.
type rawRuntime struct {
	PortMappings []struct {
		HostPort      int    `json:"hostPort"`
		ContainerPort int    `json:"containerPort"`
		Protocol      string `json:"protocol"`
		HostIP        string `json:"hostIP"`
	} `json:"portMappings"`
}

// Parse reads and validates a configuration. Every failure is a
// *types.Error: 6 for input that is not JSON, 1 for an unsupported
// cniVersion, 7 for a field of the wrong type or value (the message names
// it).
func Parse(data []byte) (*Config, error) {
	raw := rawConfig{StateDir: DefaultStateDir}
	if err := decode(data, &raw, ""); err != nil {
		return nil, err
	}
	c := &Config{CNIVersion: raw.CNIVersion, Name: raw.Name, Chain: raw.Chain, Localhost: raw.Localhost,
		StateDir: raw.StateDir, ValidAttachments: raw.ValidAttachments}
	if c.CNIVersion == "" {
		c.CNIVersion = LegacyVersion
	}
	if !slices.Contains(version.All.SupportedVersions(), c.CNIVersion) {
		return nil, types.NewError(types.ErrIncompatibleCNIVersion,
			fmt.Sprintf("cniVersion %q is not supported; use one of %v", c.CNIVersion, version.All.SupportedVersions()), "")
	}
	if c.Name == "" {
		return nil, invalid("name is missing: the network configuration needs a \"name\"")
	}
	if c.Chain == "" {
		c.Chain = DefaultChain
	}
	if err := checkChain(c.Chain); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(c.StateDir) {
		return nil, invalid("stateDir %q: want an absolute directory (default %s)", c.StateDir, DefaultStateDir)
	}
	var err error
	if c.ExcludeDevices, err = parseDevices(raw.ExcludeDevices); err != nil {
		return nil, err
	}
	if c.Mappings, err = parseMappings(raw.Args, raw.RuntimeConfig); err != nil {
		return nil, err
	}
	if err := c.parseDelegate(raw); err != nil {
		return nil, err
	}
	if c.PrevResult, err = parsePrevResult(raw.PrevResult, c.CNIVersion); err != nil {
		return nil, err
	}
	return c, nil
}

// Chained reports whether the config is a CNI chained plugin's (no
// delegate: the container's addresses come from prevResult).
func (c *Config) Chained() bool { return c.Delegate == nil }

func checkChain(chain string) error {
	if len(chain) > maxChainLen || !chainRE.MatchString(chain) {
		return invalid("chain %q: want 1-%d letters, digits, '_', '.' or '-', starting with a letter or digit (Mesos uses \"M-DCOS\")", chain, maxChainLen)
	}
	if slices.Contains(reservedChains, strings.ToLower(chain)) {
		return invalid("chain %q: the name is taken by dcnet-portmap's own chains %v", chain, reservedChains)
	}
	return nil
}

// parseDevices reads "excludeDevices": every entry a device name.
func parseDevices(raw []json.RawMessage) ([]string, error) {
	var out []string
	for i, r := range raw {
		var dev string
		if err := json.Unmarshal(r, &dev); err != nil {
			return nil, invalid("excludeDevices[%d]: got %.40s, want a device name (a string)", i, bytes.TrimSpace(r))
		}
		if dev == "" || len(dev) > maxDevLen || strings.ContainsAny(dev, "/ \t\n\"\\") {
			return nil, invalid("excludeDevices[%d] %q: want a device name of 1-%d characters without '/', quotes or spaces", i, dev, maxDevLen)
		}
		if !slices.Contains(out, dev) {
			out = append(out, dev)
		}
	}
	return out, nil
}

// parseMappings collects runtimeConfig.portMappings, then Mesos'
// network_info.port_mappings, without duplicates.
func parseMappings(args, runtime json.RawMessage) ([]Mapping, error) {
	var a rawArgs
	if len(args) > 0 && string(args) != "null" {
		if err := decode(args, &a, "args."); err != nil {
			return nil, err
		}
	}
	var rc rawRuntime
	if len(runtime) > 0 && string(runtime) != "null" {
		if err := decode(runtime, &rc, "runtimeConfig."); err != nil {
			return nil, err
		}
	}
	var out []Mapping
	add := func(m Mapping, err error, field string, i int) error {
		if err != nil {
			return invalid("%s[%d]: %v", field, i, err)
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
		return nil
	}
	for i, pm := range rc.PortMappings {
		m, err := NewMapping(pm.HostPort, pm.ContainerPort, pm.Protocol, pm.HostIP)
		if err := add(m, err, "runtimeConfig.portMappings", i); err != nil {
			return nil, err
		}
	}
	for i, pm := range a.Mesos.NetworkInfo.PortMappings {
		m, err := NewMapping(pm.HostPort, pm.ContainerPort, pm.Protocol, "")
		if err := add(m, err, fmt.Sprintf("args[%q].network_info.port_mappings", mesosArgs), i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseDelegate checks "delegate" and builds the configuration the
// delegate gets: its own object with "name" and "args" of the outer one,
// and the outer cniVersion when it names none.
func (c *Config) parseDelegate(raw rawConfig) error {
	d := bytes.TrimSpace(raw.Delegate)
	if len(d) == 0 || string(d) == "null" {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(d, &obj); err != nil || obj == nil {
		return invalid("delegate: got %.40s, want the delegate plugin's configuration (an object)", d)
	}
	var head struct {
		Type       string `json:"type"`
		CNIVersion string `json:"cniVersion"`
	}
	if err := decode(d, &head, "delegate."); err != nil {
		return err
	}
	if head.Type == "" || strings.ContainsAny(head.Type, "/\\") {
		return invalid("delegate.type %q: want the name of a CNI plugin in CNI_PATH, such as \"dcnet\" or \"bridge\"", head.Type)
	}
	if head.CNIVersion == "" && raw.CNIVersion != "" {
		head.CNIVersion = raw.CNIVersion
		obj["cniVersion"], _ = json.Marshal(head.CNIVersion)
	}
	if head.CNIVersion == "" {
		head.CNIVersion = LegacyVersion
	}
	if !slices.Contains(version.All.SupportedVersions(), head.CNIVersion) {
		return types.NewError(types.ErrIncompatibleCNIVersion,
			fmt.Sprintf("delegate.cniVersion %q is not supported; use one of %v", head.CNIVersion, version.All.SupportedVersions()), "")
	}
	obj["name"], _ = json.Marshal(raw.Name)
	if len(raw.Args) > 0 {
		obj["args"] = raw.Args
	}
	if len(raw.RuntimeConfig) > 0 {
		obj["runtimeConfig"] = raw.RuntimeConfig
	}
	if len(raw.ValidAttachments) > 0 {
		obj["cni.dev/valid-attachments"], _ = json.Marshal(raw.ValidAttachments)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return invalid("delegate: %v", err)
	}
	c.Delegate, c.DelegateType, c.DelegateVersion = b, head.Type, head.CNIVersion
	return nil
}

// decode, parsePrevResult and invalid are netconf's, so dcnet's plugins
// name bad fields the same way.
var (
	decode          = netconf.Decode
	parsePrevResult = netconf.ParsePrevResult
	invalid         = netconf.Invalid
)
