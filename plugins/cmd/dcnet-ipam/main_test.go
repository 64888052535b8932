package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/internal/fakeoverlayd"
	"github.com/dcnet/dcnet/plugins/internal/plugintest"
	"github.com/dcnet/dcnet/plugins/lease"
)

// TestBinary runs the built dcnet-ipam binary with CNI environment and a
// bridge-style config, as the reference bridge plugin would; it needs no root.
func TestBinary(t *testing.T) {
	bin := plugintest.Build(t, ".")
	srv := fakeoverlayd.Start(t, api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1420, NodeSubnet: "9.0.3.0/30", Gateway: "9.0.3.1"})
	conf := func(version string) []byte {
		v := ""
		if version != "" {
			v = fmt.Sprintf(`"cniVersion":%q,`, version)
		}
		return []byte(fmt.Sprintf(`{%s"name":"dcos","type":"bridge","bridge":"m-dcos",
		  "ipam":{"type":"dcnet-ipam","socket":%q,"routes":[{"dst":"0.0.0.0/0"}]}}`, v, srv.Socket))
	}
	tests := []struct {
		version string
		want    string
	}{
		{"", `{"cniVersion":"0.1.0","ip4":{"ip":"9.0.3.2/30","gateway":"9.0.3.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{}}`},
		{"0.2.0", `{"cniVersion":"0.2.0","ip4":{"ip":"9.0.3.2/30","gateway":"9.0.3.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{}}`},
		{"0.3.0", `{"cniVersion":"0.3.0","ips":[{"version":"4","address":"9.0.3.2/30","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}`},
		{"0.4.0", `{"cniVersion":"0.4.0","ips":[{"version":"4","address":"9.0.3.2/30","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}`},
		{"1.0.0", `{"cniVersion":"1.0.0","ips":[{"address":"9.0.3.2/30","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}]}`},
		{"1.1.0", `{"cniVersion":"1.1.0","ips":[{"address":"9.0.3.2/30","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}]}`},
	}
	for _, tt := range tests {
		t.Run("version "+tt.version, func(t *testing.T) {
			call := plugintest.Call{Command: "ADD", ContainerID: "c1", Netns: "/proc/self/ns/net", IfName: "eth0", NetnsOverride: true, Config: conf(tt.version)}
			out, err := plugintest.Run(bin, call)
			if err != nil {
				t.Fatalf("ADD: %v", err)
			}
			if diff := cmp.Diff(plugintest.Decode(t, tt.want), plugintest.Decode(t, string(out))); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			call.Command = "DEL"
			if _, err := plugintest.Run(bin, call); err != nil {
				t.Errorf("DEL: %v", err)
			}
		})
	}

	// Exhaustion reaches the runtime as code 100.
	first := plugintest.Call{Command: "ADD", ContainerID: "c1", Netns: "/proc/self/ns/net", IfName: "eth0", NetnsOverride: true, Config: conf("1.1.0")}
	if _, err := plugintest.Run(bin, first); err != nil {
		t.Fatalf("ADD c1: %v", err)
	}
	second := first
	second.ContainerID = "c2"
	_, err := plugintest.Run(bin, second)
	var e *types.Error
	if !errors.As(err, &e) || e.Code != lease.CodeSubnetExhausted || !strings.Contains(e.Msg, "9.0.3.0/30") {
		t.Errorf("ADD into a full subnet: %v, want code %d naming the subnet", err, lease.CodeSubnetExhausted)
	}

	status := plugintest.Call{Command: "STATUS", Config: conf("1.1.0")}
	if _, err := plugintest.Run(bin, status); err != nil {
		t.Errorf("STATUS: %v", err)
	}
	srv.Stop()
	_, err = plugintest.Run(bin, status)
	if !errors.As(err, &e) || e.Code != types.ErrPluginNotAvailable {
		t.Errorf("STATUS with overlayd down: %v, want code 50", err)
	}
	del := first
	del.Command = "DEL"
	_, err = plugintest.Run(bin, del)
	if !errors.As(err, &e) || e.Code != types.ErrTryAgainLater {
		t.Errorf("DEL with overlayd down: %v, want code 11", err)
	}
}
