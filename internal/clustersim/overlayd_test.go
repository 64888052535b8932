package clustersim

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

func TestOverlaydArgv(t *testing.T) {
	node := &netsim.Node{Name: "a1", UnderlayIP: netip.MustParseAddr("198.18.0.3")}
	o := NewOverlayd(nil, node, "/b/overlayd", "/d")
	want := []string{"/b/overlayd", "--node-name", "a1", "--underlay-ip", "198.18.0.3",
		"--run-dir", "/d/run", "--state-dir", "/d/state", "--metrics-addr", ""}
	if diff := cmp.Diff(want, o.Argv()); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	o.Config, o.Etcd, o.Metrics, o.Extra = "/d/o.json", "http://198.18.0.1:2379", "127.0.0.1:62091", []string{"--log-level", "debug"}
	want = []string{"/b/overlayd", "--node-name", "a1", "--underlay-ip", "198.18.0.3",
		"--run-dir", "/d/run", "--state-dir", "/d/state", "--metrics-addr", "127.0.0.1:62091",
		"--config", "/d/o.json", "--etcd-endpoints", "http://198.18.0.1:2379", "--log-level", "debug"}
	if diff := cmp.Diff(want, o.Argv()); diff != "" {
		t.Errorf("all set (-want +got):\n%s", diff)
	}
	if o.Socket() != "/d/run/overlayd.sock" {
		t.Errorf("Socket = %s", o.Socket())
	}
}

func TestNetwork(t *testing.T) {
	nets := []api.Network{{Name: "dcos", NodeSubnet: "9.0.0.0/24"}, {Name: "dcos6"}}
	if n, err := Network(nets, "dcos"); err != nil || n.NodeSubnet != "9.0.0.0/24" {
		t.Errorf("Network(dcos) = %+v, %v", n, err)
	}
	if _, err := Network(nets, "blue"); err == nil {
		t.Error("Network(blue): no error")
	}
}

func TestEtcdEndpoints(t *testing.T) {
	e := &Etcd{Members: []*EtcdMember{
		{Node: &netsim.Node{UnderlayIP: netip.MustParseAddr("198.18.0.1")}},
		{Node: &netsim.Node{UnderlayIP: netip.MustParseAddr("198.18.0.2")}},
	}}
	if got := e.Endpoints(); got != "http://198.18.0.1:2379,http://198.18.0.2:2379" {
		t.Errorf("Endpoints = %s", got)
	}
}
