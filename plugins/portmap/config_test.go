package portmap

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/plugins/internal/plugintest"
)

// dcosConf is DC/OS's own dcos.conf with dcnet-portmap as the type.
const dcosConf = `{"name":"dcos","type":"dcnet-portmap","excludeDevices":["m-dcos"],"chain":"M-DCOS",
 "delegate":{"type":"bridge","bridge":"m-dcos","isGateway":true,"ipMasq":false,"hairpinMode":true,"mtu":1420,
   "ipam":{"type":"host-local","subnet":"9.0.1.0/25","routes":[{"dst":"0.0.0.0/0"}]}},
 "args":{"org.apache.mesos":{"network_info":{"name":"dcos","port_mappings":[{"host_port":8080,"container_port":80},{"host_port":53,"container_port":53,"protocol":"UDP"}]}}}}`

func TestParse(t *testing.T) {
	c, err := Parse([]byte(dcosConf))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 53, ContainerPort: 53, Protocol: "udp"}}
	if diff := cmp.Diff(want, c.Mappings); diff != "" {
		t.Errorf("mappings (-want +got):\n%s", diff)
	}
	if c.CNIVersion != "0.1.0" || c.Chain != "M-DCOS" || c.DelegateType != "bridge" || c.DelegateVersion != "0.1.0" ||
		!cmp.Equal(c.ExcludeDevices, []string{"m-dcos"}) || c.StateDir != DefaultStateDir {
		t.Errorf("parsed %+v", c)
	}
	if !strings.Contains(string(c.Delegate), `"name":"dcos"`) || !strings.Contains(string(c.Delegate), `"org.apache.mesos"`) {
		t.Errorf("delegate config %s lacks the copied name and args", c.Delegate)
	}
	chained, err := Parse([]byte(`{"cniVersion":"1.0.0","name":"dcos","type":"dcnet-portmap",
	  "runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"tcp","hostIP":"0.0.0.0"},{"hostPort":80,"containerPort":8080}]},
	  "prevResult":{"cniVersion":"1.0.0","ips":[{"address":"9.0.3.2/24"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !chained.Chained() || chained.Chain != DefaultChain || len(chained.Mappings) != 1 || chained.PrevResult == nil {
		t.Errorf("chained %+v", chained)
	}
}

func TestParseErrors(t *testing.T) {
	mesos := func(pm string) string {
		return `{"name":"dcos","chain":"M-DCOS","delegate":{"type":"dcnet"},"args":{"org.apache.mesos":{"network_info":{"port_mappings":[` + pm + `]}}}}`
	}
	for _, tt := range []struct {
		name, in string
		code     uint
		msg      string
	}{
		{"not json", `{"name":`, types.ErrDecodingFailure, "not valid JSON"},
		{"no name", `{"cniVersion":"1.0.0"}`, types.ErrInvalidNetworkConfig, "name is missing"},
		{"version", `{"cniVersion":"9.9.9","name":"x"}`, types.ErrIncompatibleCNIVersion, `cniVersion "9.9.9"`},
		{"host port 0", mesos(`{"host_port":0,"container_port":80}`), types.ErrInvalidNetworkConfig, `port_mappings[0]: host port 0 out of range [1, 65535]`},
		{"host port too big", mesos(`{"host_port":65536,"container_port":80}`), types.ErrInvalidNetworkConfig, "host port 65536 out of range"},
		{"container port 0", mesos(`{"host_port":80}`), types.ErrInvalidNetworkConfig, "container port 0 out of range"},
		{"unknown protocol", mesos(`{"host_port":80,"container_port":80,"protocol":"icmp"}`), types.ErrInvalidNetworkConfig, `protocol "icmp": want "tcp", "udp" or "sctp"`},
		{"port a string", mesos(`{"host_port":"80","container_port":80}`), types.ErrInvalidNetworkConfig, `args["org.apache.mesos"].network_info.port_mappings.host_port: got a JSON string, want an integer`},
		{"exclude not a string", `{"name":"dcos","excludeDevices":["m-dcos",7]}`, types.ErrInvalidNetworkConfig, "excludeDevices[1]: got 7, want a device name (a string)"},
		{"exclude empty", `{"name":"dcos","excludeDevices":[""]}`, types.ErrInvalidNetworkConfig, `excludeDevices[0] ""`},
		{"exclude not a list", `{"name":"dcos","excludeDevices":"m-dcos"}`, types.ErrInvalidNetworkConfig, "excludeDevices: got a JSON string, want an array"},
		{"chain chars", `{"name":"dcos","chain":"M DCOS"}`, types.ErrInvalidNetworkConfig, `chain "M DCOS"`},
		{"chain reserved", `{"name":"dcos","chain":"prerouting"}`, types.ErrInvalidNetworkConfig, "taken by dcnet-portmap's own chains"},
		{"delegate not an object", `{"name":"dcos","delegate":"dcnet"}`, types.ErrInvalidNetworkConfig, "delegate: got \"dcnet\""},
		{"delegate without type", `{"name":"dcos","delegate":{"bridge":"m-dcos"}}`, types.ErrInvalidNetworkConfig, `delegate.type ""`},
		{"delegate path", `{"name":"dcos","delegate":{"type":"../bridge"}}`, types.ErrInvalidNetworkConfig, `delegate.type "../bridge"`},
		{"host ip", `{"name":"dcos","runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.1"}]}}`, types.ErrInvalidNetworkConfig, "hostIP 10.0.0.1"},
		{"relative state dir", `{"name":"dcos","stateDir":"state"}`, types.ErrInvalidNetworkConfig, `stateDir "state"`},
		{"prevResult garbage", `{"cniVersion":"1.0.0","name":"dcos","prevResult":{"ips":[{"address":"x"}]}}`, types.ErrInvalidNetworkConfig, "prevResult"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			plugintest.WantCode(t, err, tt.code, tt.msg)
		})
	}
}

// FuzzParse: any input gives a *types.Error or a config that keeps the
// invariants the data plane relies on.
func FuzzParse(f *testing.F) {
	for _, s := range []string{dcosConf, `{"name":"a","excludeDevices":[1]}`, `{"name":"a","runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1,"protocol":"sctp"}]}}`,
		`{"cniVersion":"1.1.0","name":"a","delegate":{"type":"dcnet","cniVersion":"0.3.1"}}`, `[]`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var e *types.Error
			if !errors.As(err, &e) || e.Msg == "" {
				t.Fatalf("error %v (%T) is not a CNI error with a message", err, err)
			}
			return
		}
		if c.Name == "" || checkChain(c.Chain) != nil || c.StateDir == "" || c.CNIVersion == "" {
			t.Fatalf("accepted %+v", c)
		}
		for _, m := range c.Mappings {
			if m.HostPort == 0 || m.ContainerPort == 0 || protocols[m.Protocol] == 0 {
				t.Fatalf("accepted mapping %+v", m)
			}
		}
		for _, d := range c.ExcludeDevices {
			if d == "" || len(d) > maxDevLen {
				t.Fatalf("accepted device %q", d)
			}
		}
		if !c.Chained() && (c.DelegateType == "" || c.DelegateVersion == "") {
			t.Fatalf("accepted delegate %+v", c)
		}
	})
}
