package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/internal/fakeoverlayd"
	"github.com/dcnet/dcnet/plugins/internal/nstest"
	"github.com/dcnet/dcnet/plugins/internal/plugintest"
)

// TestPrivilegedBinary runs the built dcnet binary as Mesos does (config
// without cniVersion, Mesos args) inside a node netns.
func TestPrivilegedBinary(t *testing.T) {
	netsim.Privileged(t)
	bin := plugintest.Build(t, ".")
	node := nstest.NewNS(t)
	nstest.Bridge(t, node, "m-dcos", "9.0.3.1/24")
	cont := nstest.NewNS(t)
	srv := fakeoverlayd.Start(t, api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1420, NodeSubnet: "9.0.3.0/24", Gateway: "9.0.3.1"})
	conf := []byte(fmt.Sprintf(`{"name":"dcos","type":"dcnet","socket":%q,
	  "args":{"org.apache.mesos":{"network_info":{"name":"dcos","labels":{"labels":[{"key":"VIP_0","value":"/web:80"}]}}}}}`, srv.Socket))
	call := plugintest.Call{Command: "ADD", ContainerID: "c1", Netns: cont.Path(), IfName: "eth0", Config: conf, InNetns: nstest.Name(node)}

	out, err := plugintest.Run(bin, call)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("ADD printed %q: %v", out, err)
	}
	want := map[string]any{
		"cniVersion": "0.1.0",
		"ip4": map[string]any{"ip": "9.0.3.2/24", "gateway": "9.0.3.1",
			"routes": []any{map[string]any{"dst": "0.0.0.0/0", "gw": "9.0.3.1"}}},
		"dns": map[string]any{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("0.1.0 result (-want +got):\n%s", diff)
	}
	if err := nstest.Ping(cont, "9.0.3.1"); err != nil {
		t.Errorf("container -> gateway: %v", err)
	}

	call.Command = "CHECK" // a 0.1.0 config cannot CHECK
	_, err = plugintest.Run(bin, call)
	var e *types.Error
	if !errors.As(err, &e) || e.Code != types.ErrIncompatibleCNIVersion {
		t.Errorf("CHECK of a 0.1.0 config: %v, want code 1", err)
	}

	call.Command, call.Netns = "DEL", ""
	for i := range 2 {
		if _, err := plugintest.Run(bin, call); err != nil {
			t.Fatalf("DEL #%d with empty CNI_NETNS: %v", i+1, err)
		}
	}
	if srv.String() != "" {
		t.Errorf("overlayd after DEL: %q", srv)
	}

	call.Command = "VERSION"
	call.Config = []byte(`{"cniVersion":"1.1.0"}`)
	out, err = plugintest.Run(bin, call)
	if err != nil || !strings.Contains(string(out), `"0.1.0"`) || !strings.Contains(string(out), `"1.1.0"`) {
		t.Errorf("VERSION: %s, %v; want 0.1.0 through 1.1.0", out, err)
	}
}
