package netconf

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/overlayd/api"
)

// mesosConf is a DC/OS-style config: no cniVersion, args as Mesos injects them.
const mesosConf = `{"name":"dcos","type":"dcnet",
 "args":{"org.apache.mesos":{"network_info":{"name":"dcos",
   "labels":{"labels":[{"key":"VIP_0","value":"/web:80"}]},
   "port_mappings":[{"host_port":8080,"container_port":80,"protocol":"tcp"}]}}}}`

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Config
	}{{
		name: "mesos args, no cniVersion",
		in:   mesosConf,
		want: &Config{
			CNIVersion: "0.1.0", Name: "dcos", Type: "dcnet", Network: "dcos", Socket: api.DefaultSocket,
			HairpinMode: true,
			Labels:      map[string]string{"VIP_0": "/web:80"},
			PortMappings: []api.PortMapping{
				{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
			},
		},
	}, {
		name: "cni args.labels array, runtimeConfig port mappings, all fields",
		in: `{"cniVersion":"1.1.0","name":"mynet","type":"dcnet","network":"dcos","socket":"/tmp/o.sock",
		      "mtu":1400,"hairpinMode":false,
		      "args":{"labels":[{"key":"app","value":"web"}],"cni":{"labels":[{"key":"tier","value":"fe"}]}},
		      "runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"UDP"},{"hostPort":81,"containerPort":81}]}}`,
		want: &Config{
			CNIVersion: "1.1.0", Name: "mynet", Type: "dcnet", Network: "dcos", Socket: "/tmp/o.sock",
			MTU: 1400, HairpinMode: false,
			Labels: map[string]string{"app": "web", "tier": "fe"},
			PortMappings: []api.PortMapping{
				{HostPort: 80, ContainerPort: 8080, Protocol: "udp"},
				{HostPort: 81, ContainerPort: 81, Protocol: "tcp"},
			},
		},
	}, {
		name: "labels as a map override mesos labels; duplicate mappings merge",
		in: `{"cniVersion":"0.4.0","name":"dcos","args":{"labels":{"VIP_0":"/api:80"},
		      "org.apache.mesos":{"network_info":{"labels":{"labels":[{"key":"VIP_0","value":"/web:80"},{"key":"x"}]},
		      "port_mappings":[{"host_port":8080,"container_port":80}]}}},
		      "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}}`,
		want: &Config{
			CNIVersion: "0.4.0", Name: "dcos", Network: "dcos", Socket: api.DefaultSocket, HairpinMode: true,
			Labels:       map[string]string{"VIP_0": "/api:80", "x": ""},
			PortMappings: []api.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
		},
	}, {
		name: "prevResult and valid attachments",
		in: `{"cniVersion":"1.1.0","name":"dcos",
		      "prevResult":{"cniVersion":"1.1.0","ips":[{"address":"9.0.3.2/24","gateway":"9.0.3.1"}]},
		      "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}`,
		want: &Config{
			CNIVersion: "1.1.0", Name: "dcos", Network: "dcos", Socket: api.DefaultSocket, HairpinMode: true,
			PrevResult: &current.Result{
				CNIVersion: "1.1.0",
				IPs:        []*current.IPConfig{{Address: cidr(t, "9.0.3.2/24"), Gateway: net.ParseIP("9.0.3.1")}},
			},
			ValidAttachments: []types.GCAttachment{{ContainerID: "c1", IfName: "eth0"}},
		},
	}, {
		name: "empty ipam section is fine",
		in:   `{"cniVersion":"1.0.0","name":"dcos","ipam":{}}`,
		want: &Config{CNIVersion: "1.0.0", Name: "dcos", Network: "dcos", Socket: api.DefaultSocket, HairpinMode: true},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIPAM(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Config
	}{{
		name: "ipam section wins over top level; bridge fields ignored",
		in: `{"cniVersion":"1.0.0","name":"dcos","type":"bridge","bridge":"m-dcos","mtu":"not read","network":"top","socket":"/top.sock",
		      "ipam":{"type":"dcnet-ipam","network":"dcos","socket":"/run/o.sock","routes":[{"dst":"0.0.0.0/0"},{"dst":"10.0.0.0/8","gw":"9.0.3.1"}]}}`,
		want: &Config{
			CNIVersion: "1.0.0", Name: "dcos", Type: "bridge", Network: "dcos", Socket: "/run/o.sock",
			Routes: []*types.Route{
				{Dst: cidrNet(t, "0.0.0.0/0")},
				{Dst: cidrNet(t, "10.0.0.0/8"), GW: net.ParseIP("9.0.3.1")},
			},
		},
	}, {
		name: "top level network and socket when the section has none; mesos args at top level",
		in:   `{"name":"dcos","type":"bridge","network":"dcos6","socket":"/top.sock","ipam":{"type":"dcnet-ipam"},` + mesosConf[strings.Index(mesosConf, `"args"`):],
		want: &Config{
			CNIVersion: "0.1.0", Name: "dcos", Type: "bridge", Network: "dcos6", Socket: "/top.sock",
			Labels:       map[string]string{"VIP_0": "/web:80"},
			PortMappings: []api.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIPAM([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseIPAM: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseIPAM (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ipam bool
		code uint
		msg  string // substring of the message
	}{
		{"not json", `{"name":"dcos",`, false, types.ErrDecodingFailure, "not valid JSON"},
		{"not an object", `[1,2]`, false, types.ErrDecodingFailure, "want a JSON object"},
		{"empty input", ``, false, types.ErrDecodingFailure, "network config"},
		{"mtu a string", `{"name":"dcos","mtu":"big"}`, false, types.ErrInvalidNetworkConfig, `mtu: got a JSON string, want an integer`},
		{"mtu too small", `{"name":"dcos","mtu":100}`, false, types.ErrInvalidNetworkConfig, "mtu 100 out of range [576, 9000]"},
		{"mtu too big", `{"name":"dcos","mtu":65536}`, false, types.ErrInvalidNetworkConfig, "mtu 65536 out of range"},
		{"mtu zero", `{"name":"dcos","mtu":0}`, false, types.ErrInvalidNetworkConfig, "mtu 0 out of range"},
		{"hairpin a string", `{"name":"dcos","hairpinMode":"yes"}`, false, types.ErrInvalidNetworkConfig, "hairpinMode: got a JSON string, want true or false"},
		{"no name", `{"cniVersion":"1.0.0"}`, false, types.ErrInvalidNetworkConfig, "name is missing"},
		{"network chars", `{"name":"dcos","network":"DC/OS"}`, false, types.ErrInvalidNetworkConfig, `network "DC/OS" (from "network")`},
		{"network from name", `{"name":"my_net"}`, false, types.ErrInvalidNetworkConfig, `network "my_net" (from "name")`},
		{"network too long", `{"name":"dcos","network":"` + strings.Repeat("a", 33) + `"}`, false, types.ErrInvalidNetworkConfig, "1-32 lower-case"},
		{"relative socket", `{"name":"dcos","socket":"o.sock"}`, false, types.ErrInvalidNetworkConfig, `socket "o.sock"`},
		{"socket a number", `{"name":"dcos","socket":5}`, false, types.ErrInvalidNetworkConfig, "socket: got a JSON number, want a string"},
		{"unsupported version", `{"cniVersion":"2.0.0","name":"dcos"}`, false, types.ErrIncompatibleCNIVersion, `cniVersion "2.0.0"`},
		{"ipam type on main plugin", `{"name":"dcos","ipam":{"type":"host-local"}}`, false, types.ErrInvalidNetworkConfig, `ipam.type "host-local"`},
		{"ipam not an object", `{"name":"dcos","ipam":"x"}`, true, types.ErrInvalidNetworkConfig, "ipam: got a JSON string, want an object"},
		{"labels wrong shape", `{"name":"dcos","args":{"labels":"a=b"}}`, false, types.ErrInvalidNetworkConfig, "args.labels: want"},
		{"label value a number", `{"name":"dcos","args":{"labels":{"a":1}}}`, false, types.ErrInvalidNetworkConfig, "args.labels"},
		{"label without key", `{"name":"dcos","args":{"cni":{"labels":[{"value":"v"}]}}}`, false, types.ErrInvalidNetworkConfig, "args.cni.labels[0]: key is empty"},
		{"mesos label without key", `{"name":"dcos","args":{"org.apache.mesos":{"network_info":{"labels":{"labels":[{"value":"v"}]}}}}}`, false, types.ErrInvalidNetworkConfig, `network_info.labels.labels[0]: key is empty`},
		{"mesos port a string", `{"name":"dcos","args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":"80"}]}}}}`, false, types.ErrInvalidNetworkConfig, "host_port: got a JSON string"},
		{"mesos port out of range", `{"name":"dcos","args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":80,"container_port":70000}]}}}}`, false, types.ErrInvalidNetworkConfig, "port_mappings[0]: container port 70000 out of range"},
		{"port mapping protocol", `{"name":"dcos","runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"protocol":"icmp"}]}}`, false, types.ErrInvalidNetworkConfig, `runtimeConfig.portMappings[0]: protocol "icmp"`},
		{"port mapping host port 0", `{"name":"dcos","runtimeConfig":{"portMappings":[{"containerPort":80}]}}`, false, types.ErrInvalidNetworkConfig, "host port 0 out of range"},
		{"port mapping host ip", `{"name":"dcos","runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"hostIP":"x"}]}}`, false, types.ErrInvalidNetworkConfig, `hostIP "x"`},
		{"prevResult garbage", `{"cniVersion":"1.0.0","name":"dcos","prevResult":{"ips":[{"address":"nope"}]}}`, false, types.ErrInvalidNetworkConfig, "prevResult"},
		{"route dst", `{"name":"dcos","ipam":{"routes":[{"dst":"default"}]}}`, true, types.ErrInvalidNetworkConfig, `ipam.routes[0]: dst "default"`},
		{"route gw family", `{"name":"dcos","ipam":{"routes":[{"dst":"::/0","gw":"9.0.3.1"}]}}`, true, types.ErrInvalidNetworkConfig, `ipam.routes[0]: gw "9.0.3.1"`},
		{"ipam network chars", `{"name":"dcos","ipam":{"network":"a b"}}`, true, types.ErrInvalidNetworkConfig, `network "a b"`},
		{"ipam json inside", `{"name":"dcos","ipam":{"routes":{}}}`, true, types.ErrInvalidNetworkConfig, "ipam.routes: got a JSON object, want an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := Parse
			if tt.ipam {
				parse = ParseIPAM
			}
			_, err := parse([]byte(tt.in))
			var e *types.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v (%T), want a *types.Error", err, err)
			}
			if e.Code != tt.code || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got code %d %q, want code %d containing %q", e.Code, e.Msg, tt.code, tt.msg)
			}
		})
	}
}

// TestShippedConfigs loads every example in conf/cni with the parser of
// the plugin it names.
func TestShippedConfigs(t *testing.T) {
	files, err := filepath.Glob("../../conf/cni/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs in ../../conf/cni: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, conf := range pluginConfigs(t, f) {
				var head struct {
					Type string `json:"type"`
					IPAM struct {
						Type string `json:"type"`
					} `json:"ipam"`
				}
				if err := json.Unmarshal(conf, &head); err != nil {
					t.Fatal(err)
				}
				var err error
				switch {
				case head.Type == "dcnet":
					_, err = Parse(conf)
				case head.IPAM.Type == "dcnet-ipam":
					_, err = ParseIPAM(conf)
				default:
					continue // another plugin of a list
				}
				if err != nil {
					t.Errorf("%s: %v", conf, err)
				}
			}
		})
	}
}

// pluginConfigs returns the configs a runtime would pass to each plugin of
// a .conf or .conflist file.
func pluginConfigs(t *testing.T, file string) [][]byte {
	if filepath.Ext(file) != ".conflist" {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return [][]byte{data}
	}
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, p := range list.Plugins {
		var m map[string]any
		if err := json.Unmarshal(p.Bytes, &m); err != nil {
			t.Fatal(err)
		}
		m["name"], m["cniVersion"] = list.Name, list.CNIVersion
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func cidr(t *testing.T, s string) net.IPNet {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return net.IPNet{IP: ip, Mask: n.Mask}
}

func cidrNet(t *testing.T, s string) net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return *n
}
