package dcnetipam

import (
	"bytes"
	"fmt"
	"github.com/dcnet/dcnet/plugins/internal/plugintest"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/internal/fakeoverlayd"
	"github.com/dcnet/dcnet/plugins/lease"
)

var testNetwork = api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1420, NodeSubnet: "9.0.3.0/30", Gateway: "9.0.3.1"}

// bridgeConf is a reference-bridge config delegating IPAM to dcnet-ipam,
// with Mesos' args at top level.
func bridgeConf(version, socket, extra string) []byte {
	v := ""
	if version != "" {
		v = fmt.Sprintf(`"cniVersion":%q,`, version)
	}
	return []byte(fmt.Sprintf(`{%s"name":"dcos","type":"bridge","bridge":"m-dcos","mtu":1420,"hairpinMode":true,
	  "args":{"org.apache.mesos":{"network_info":{"name":"dcos","labels":{"labels":[{"key":"VIP_0","value":"/web:80"}]},
	    "port_mappings":[{"host_port":8080,"container_port":80,"protocol":"tcp"}]}}},
	  "ipam":{"type":"dcnet-ipam","socket":%q,"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}%s}`, v, socket, extra))
}

func args(container string, conf []byte) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: container, Netns: "/run/netns/" + container, IfName: "eth0", StdinData: conf}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		version string
		want    string
	}{
		{"", `{"cniVersion":"0.1.0","ip4":{"ip":"9.0.3.2/30","gateway":"9.0.3.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{}}`},
		{"0.3.1", `{"cniVersion":"0.3.1","ips":[{"version":"4","address":"9.0.3.2/30","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}`},
		{"1.1.0", `{"cniVersion":"1.1.0","ips":[{"address":"9.0.3.2/30","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}]}`},
	}
	for _, tt := range tests {
		t.Run("version "+tt.version, func(t *testing.T) {
			srv := fakeoverlayd.Start(t, testNetwork)
			var out bytes.Buffer
			p := &Plugin{Stdout: &out}
			if err := p.Add(args("c1", bridgeConf(tt.version, srv.Socket, ""))); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if diff := cmp.Diff(plugintest.Decode(t, tt.want), plugintest.Decode(t, out.String())); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			wantStore := "dcos/c1/eth0 9.0.3.2/30 gw 9.0.3.1 labels VIP_0=/web:80 port 8080:80/tcp"
			if diff := cmp.Diff(wantStore, srv.String()); diff != "" {
				t.Errorf("overlayd (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	srv := fakeoverlayd.Start(t, testNetwork)
	var out bytes.Buffer
	p := &Plugin{Stdout: &out}
	conf := bridgeConf("1.1.0", srv.Socket, "")

	if err := p.Add(args("c1", conf)); err != nil {
		t.Fatalf("Add c1: %v", err)
	}
	prev := strings.TrimSpace(out.String())
	plugintest.WantCode(t, p.Add(args("c2", conf)), lease.CodeSubnetExhausted, "no free address in 9.0.3.0/30")

	if err := p.Check(args("c1", bridgeConf("1.1.0", srv.Socket, `,"prevResult":`+prev))); err != nil {
		t.Errorf("Check: %v", err)
	}
	wrong := `,"prevResult":{"cniVersion":"1.1.0","ips":[{"address":"9.0.3.3/30"}]}`
	plugintest.WantCode(t, p.Check(args("c1", bridgeConf("1.1.0", srv.Socket, wrong))), types.ErrInternal, "lacks 9.0.3.2/30")
	plugintest.WantCode(t, p.Check(args("c2", conf)), types.ErrUnknownContainer, "dcos/c2/eth0")
	if err := p.Status(&skel.CmdArgs{StdinData: conf}); err != nil {
		t.Errorf("Status: %v", err)
	}

	for i := range 2 {
		if err := p.Del(args("c1", conf)); err != nil {
			t.Fatalf("Del #%d: %v", i+1, err)
		}
	}
	if err := p.Add(args("c2", conf)); err != nil {
		t.Fatalf("Add c2 after DEL c1: %v", err)
	}
	if err := p.GC(&skel.CmdArgs{StdinData: bridgeConf("1.1.0", srv.Socket, `,"cni.dev/valid-attachments":[]`)}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if srv.String() != "" {
		t.Errorf("overlayd after GC: %q, want empty", srv)
	}

	srv.Stop()
	plugintest.WantCode(t, p.Del(args("c1", conf)), types.ErrTryAgainLater, "overlayd is not reachable")
	plugintest.WantCode(t, p.Add(args("c1", conf)), types.ErrTryAgainLater, "(is overlayd running?)")
	plugintest.WantCode(t, p.Status(&skel.CmdArgs{StdinData: conf}), types.ErrPluginNotAvailable, "overlayd is not reachable")
}

func TestBadConfigAllocatesNothing(t *testing.T) {
	srv := fakeoverlayd.Start(t, testNetwork)
	p := &Plugin{Stdout: &bytes.Buffer{}}
	conf := bridgeConf("1.0.0", srv.Socket, `,"runtimeConfig":{"portMappings":[{"hostPort":0,"containerPort":80}]}`)
	plugintest.WantCode(t, p.Add(args("c1", conf)), types.ErrInvalidNetworkConfig, "runtimeConfig.portMappings[0]: host port 0")
	if srv.String() != "" {
		t.Errorf("overlayd after a bad ADD: %q, want empty", srv)
	}
}
