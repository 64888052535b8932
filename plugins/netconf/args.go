package netconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
)

// mesosArgsKey is where Mesos puts its NetworkInfo in "args".
const mesosArgsKey = "org.apache.mesos"

// Port mapping limits.
const (
	maxPort         = 65535
	defaultProtocol = "tcp"
)

// args is the "args" object: CNI conventions' labels (also under "cni") and
// Mesos' NetworkInfo. Other keys are ignored.
type args struct {
	Labels json.RawMessage `json:"labels"`
	CNI    struct {
		Labels json.RawMessage `json:"labels"`
	} `json:"cni"`
	Mesos struct {
		NetworkInfo struct {
			Labels struct {
				Labels []keyValue `json:"labels"`
			} `json:"labels"`
			PortMappings []mesosPortMapping `json:"port_mappings"`
		} `json:"network_info"`
	} `json:"org.apache.mesos"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// mesosPortMapping is Mesos' NetworkInfo.PortMapping in JSON.
type mesosPortMapping struct {
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol"`
}

// runtimeConfig carries the "portMappings" capability.
type runtimeConfig struct {
	PortMappings []struct {
		HostPort      int    `json:"hostPort"`
		ContainerPort int    `json:"containerPort"`
		Protocol      string `json:"protocol"`
		HostIP        string `json:"hostIP"`
	} `json:"portMappings"`
}

// parseArgs collects labels and port mappings. Labels merge in this order,
// later ones winning on the same key: Mesos' network_info.labels,
// args.cni.labels, args.labels. Port mappings are those of
// runtimeConfig.portMappings followed by Mesos' port_mappings, without
// duplicates.
func parseArgs(rawArgs, rawRuntime json.RawMessage) (map[string]string, []api.PortMapping, error) {
	var a args
	if len(rawArgs) > 0 {
		if err := Decode(rawArgs, &a, "args."); err != nil {
			return nil, nil, err
		}
	}
	var rc runtimeConfig
	if len(rawRuntime) > 0 {
		if err := Decode(rawRuntime, &rc, "runtimeConfig."); err != nil {
			return nil, nil, err
		}
	}

	labels := map[string]string{}
	for i, kv := range a.Mesos.NetworkInfo.Labels.Labels {
		if kv.Key == "" {
			return nil, nil, Invalid("args[%q].network_info.labels.labels[%d]: key is empty", mesosArgsKey, i)
		}
		labels[kv.Key] = kv.Value
	}
	if err := addLabels(labels, a.CNI.Labels, "args.cni.labels"); err != nil {
		return nil, nil, err
	}
	if err := addLabels(labels, a.Labels, "args.labels"); err != nil {
		return nil, nil, err
	}
	if len(labels) == 0 {
		labels = nil
	}

	var pms []api.PortMapping
	for i, pm := range rc.PortMappings {
		m, err := portMapping(pm.HostPort, pm.ContainerPort, pm.Protocol, pm.HostIP)
		if err != nil {
			return nil, nil, Invalid("runtimeConfig.portMappings[%d]: %v", i, err)
		}
		pms = appendNew(pms, m)
	}
	for i, pm := range a.Mesos.NetworkInfo.PortMappings {
		m, err := portMapping(pm.HostPort, pm.ContainerPort, pm.Protocol, "")
		if err != nil {
			return nil, nil, Invalid("args[%q].network_info.port_mappings[%d]: %v", mesosArgsKey, i, err)
		}
		pms = appendNew(pms, m)
	}
	return labels, pms, nil
}

// addLabels merges labels given as [{"key","value"}] or as {"key":"value"}.
func addLabels(into map[string]string, raw json.RawMessage, field string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	switch raw[0] {
	case '[':
		var kvs []keyValue
		if err := Decode(raw, &kvs, field+"."); err != nil {
			return err
		}
		for i, kv := range kvs {
			if kv.Key == "" {
				return Invalid("%s[%d]: key is empty", field, i)
			}
			into[kv.Key] = kv.Value
		}
	case '{':
		var m map[string]string
		if err := Decode(raw, &m, field+"."); err != nil {
			return err
		}
		for k, v := range m {
			if k == "" {
				return Invalid("%s: key is empty", field)
			}
			into[k] = v
		}
	default:
		return Invalid("%s: want [{\"key\":..,\"value\":..}] or {\"key\":\"value\"}, got %.40s", field, raw)
	}
	return nil
}

// portMapping validates one mapping; protocol defaults to tcp.
func portMapping(host, container int, proto, hostIP string) (api.PortMapping, error) {
	if host < 1 || host > maxPort {
		return api.PortMapping{}, fmt.Errorf("host port %d out of range [1, %d]", host, maxPort)
	}
	if container < 1 || container > maxPort {
		return api.PortMapping{}, fmt.Errorf("container port %d out of range [1, %d]", container, maxPort)
	}
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = defaultProtocol
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return api.PortMapping{}, fmt.Errorf("protocol %q: want \"tcp\", \"udp\" or \"sctp\"", proto)
	}
	if hostIP != "" && net.ParseIP(hostIP) == nil {
		return api.PortMapping{}, fmt.Errorf("hostIP %q: want an IP address", hostIP)
	}
	return api.PortMapping{HostPort: host, ContainerPort: container, Protocol: proto, HostIP: hostIP}, nil
}

func appendNew(pms []api.PortMapping, m api.PortMapping) []api.PortMapping {
	for _, p := range pms {
		if p == m {
			return pms
		}
	}
	return append(pms, m)
}
