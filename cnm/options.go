package cnm

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
)

// Driver option keys (docker network create -o KEY=VALUE, docker run
// --network name=NET,driver-opt=KEY=VALUE, docker network connect
// --driver-opt KEY=VALUE) and IPAM option keys (--ipam-opt).
const (
	OptOverlay   = "dcnet.overlay"       // the overlay the network is on (default DefaultOverlay)
	OptTask      = "dcnet.task"          // task/service name -> label LabelTask
	OptFramework = "dcnet.framework"     // framework name -> label LabelFramework
	OptLabel     = "dcnet.label."        // prefix: dcnet.label.KEY=VALUE -> label KEY=VALUE
	optNamespace = "dcnet."              // every other key under it is an error
	vipPrefix    = "VIP"                 // VIP_0=/web:80 (also vip...), passed through as a label
	dockerPrefix = "com.docker.network." // dockerd's own keys, ignored in endpoint options
)

// Labels the driver writes into endpoint records besides VIP labels, for
// dcnet-dns and dcnet-l4lb.
const (
	LabelTask      = "DCNET_TASK"      // dcnet.task, else the container's name
	LabelFramework = "DCNET_FRAMEWORK" // dcnet.framework
)

// DefaultOverlay is the overlay of a network without dcnet.overlay.
const DefaultOverlay = "dcos"

var (
	overlayName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	labelKey    = regexp.MustCompile(`^[A-Za-z0-9_.\-/]{1,253}$`)
)

// knownOptions is how errors list what is allowed.
const knownOptions = OptOverlay + ", " + OptTask + ", " + OptFramework + ", " + OptLabel + "<key>, VIP_<n>"

// NetworkOptions is what docker network create -o says.
type NetworkOptions struct {
	Overlay string
	Labels  map[string]string // given to every endpoint of the network
}

// ParseNetworkOptions reads the options of a CreateNetwork request: every
// key under com.docker.network.generic must be known, and every value well
// formed; the error names the option.
func ParseNetworkOptions(opts map[string]any) (NetworkOptions, error) {
	out := NetworkOptions{Overlay: DefaultOverlay}
	generic, err := genericOptions(opts)
	if err != nil {
		return out, err
	}
	for _, k := range sortedKeys(generic) {
		v := generic[k]
		if k == OptOverlay {
			if !overlayName.MatchString(v) {
				return out, fmt.Errorf("option %s=%q: want an overlay name such as dcos", k, v)
			}
			out.Overlay = v
			continue
		}
		handled, err := labelOption(k, v, &out.Labels)
		if err != nil {
			return out, err
		}
		if !handled {
			return out, fmt.Errorf("unknown option %q: dcnet knows %s", k, knownOptions)
		}
	}
	return out, nil
}

// EndpointOptions is what --driver-opt says for one endpoint.
type EndpointOptions struct {
	Labels       map[string]string
	PortMappings []api.PortMapping
}

// ParseEndpointOptions reads the options of a CreateEndpoint request.
// dockerd mixes its own keys (com.docker.network.*) with the user's
// driver options, at the top level and under com.docker.network.generic;
// keys of dcnet's namespace must be known, other keys are ignored.
func ParseEndpointOptions(opts map[string]any) (EndpointOptions, error) {
	var out EndpointOptions
	flat := map[string]string{}
	for k, v := range opts {
		if k == optGeneric || k == optPortMap || strings.HasPrefix(k, dockerPrefix) {
			continue
		}
		if s, ok := v.(string); ok {
			flat[k] = s
		} else if ours(k) {
			return out, fmt.Errorf("option %s: want a string, got %s", k, jsonText(v))
		}
	}
	generic, err := genericOptions(opts)
	if err != nil {
		return out, err
	}
	for k, v := range generic {
		flat[k] = v
	}
	for _, k := range sortedKeys(flat) {
		handled, err := labelOption(k, flat[k], &out.Labels)
		if err != nil {
			return out, err
		}
		if !handled && ours(k) {
			return out, fmt.Errorf("unknown endpoint option %q: dcnet knows %s", k, knownOptions)
		}
	}
	out.PortMappings, err = portMappings(opts[optPortMap])
	return out, err
}

// ours says whether key belongs to dcnet's option namespace.
func ours(key string) bool {
	return strings.HasPrefix(key, optNamespace) || isVIPKey(key)
}

func isVIPKey(key string) bool {
	return len(key) >= len(vipPrefix) && strings.EqualFold(key[:len(vipPrefix)], vipPrefix)
}

// labelOption turns one label-like option into a label; handled=false when
// key is no label option.
func labelOption(k, v string, labels *map[string]string) (bool, error) {
	set := func(key, value string) {
		if *labels == nil {
			*labels = map[string]string{}
		}
		(*labels)[key] = value
	}
	switch {
	case k == OptTask || k == OptFramework:
		if v == "" || len(v) > 253 || strings.ContainsAny(v, " \t\n/") {
			return true, fmt.Errorf("option %s=%q: want a name without spaces or '/'", k, v)
		}
		if k == OptTask {
			set(LabelTask, v)
		} else {
			set(LabelFramework, v)
		}
	case strings.HasPrefix(k, OptLabel):
		key := strings.TrimPrefix(k, OptLabel)
		if !labelKey.MatchString(key) {
			return true, fmt.Errorf("option %s: label key %q must be 1-253 of [A-Za-z0-9_.-/]", k, key)
		}
		set(key, v)
	case isVIPKey(k):
		if err := validVIP(v); err != nil {
			return true, fmt.Errorf("option %s=%q: %v", k, v, err)
		}
		set(k, v)
	default:
		return false, nil
	}
	return true, nil
}

// validVIP checks a VIP label value: name:port, /name:port, /group/name:port,
// 1.2.3.4:port, fd01:c::5:port (split at the last ':'), optionally with a
// tcp:// or udp:// scheme (the task label form).
func validVIP(v string) error {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 {
		return fmt.Errorf("want name:port, /name:port or ip:port")
	}
	port, err := strconv.Atoi(v[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("port %q: want 1-65535", v[i+1:])
	}
	host := strings.TrimPrefix(strings.TrimPrefix(v[:i], "tcp://"), "udp://")
	if strings.Trim(host, "/") == "" || strings.ContainsAny(host, " \t\n") {
		return fmt.Errorf("name %q: want a VIP name or address", host)
	}
	return nil
}

// genericOptions returns the string options under com.docker.network.generic.
func genericOptions(opts map[string]any) (map[string]string, error) {
	raw, ok := opts[optGeneric]
	if !ok || raw == nil {
		return map[string]string{}, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("option %s: want an object of strings, got %s", optGeneric, jsonText(raw))
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("option %s: want a string, got %s", k, jsonText(v))
		}
		out[k] = s
	}
	return out, nil
}

// portMappings converts dockerd's published ports into port mappings.
func portMappings(raw any) ([]api.PortMapping, error) {
	if raw == nil {
		return nil, nil
	}
	b, _ := json.Marshal(raw)
	var bindings []portBinding
	if err := json.Unmarshal(b, &bindings); err != nil {
		return nil, fmt.Errorf("option %s: %v", optPortMap, err)
	}
	var out []api.PortMapping
	for _, pb := range bindings {
		proto := map[int]string{6: "tcp", 17: "udp"}[pb.Proto]
		if proto == "" || pb.HostPort == 0 {
			continue // sctp, or not published on the host
		}
		last := max(pb.HostPortEnd, pb.HostPort)
		for hp := pb.HostPort; hp <= last && hp-pb.HostPort < 1024; hp++ {
			out = append(out, api.PortMapping{HostPort: hp, ContainerPort: pb.Port, Protocol: proto, HostIP: pb.HostIP})
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%T", v)
	}
	return string(b)
}
