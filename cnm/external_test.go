package cnm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPublishedPorts: ProgramExternalConnectivity with `-p 8080:80`
// publishes through Ports with the sandbox and both addresses, records the
// mapping in overlayd, shows it in EndpointOperInfo for `docker port`, and
// Revoke (then DeleteEndpoint) unpublishes; without Ports -p is refused.
func TestPublishedPorts(t *testing.T) {
	e := newEnv(t)
	ports := &FakePorts{}
	e.drv.WithPorts(ports)
	e.createNetwork("net1", nil)
	a4, a6, _ := e.start("net1", "ep1", "", nil)
	portmap := map[string]any{optPortMap: []any{map[string]any{"Proto": 6, "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080}}}
	e.mustCall("NetworkDriver.ProgramExternalConnectivity", externalRequest{NetworkID: "net1", EndpointID: "ep1", Options: portmap}, nil)
	addr4, addr6 := strings.Split(a4, "/")[0], strings.Split(a6, "/")[0]
	want := []string{"publish ep1 netns /var/run/docker/netns/x addrs [" + addr4 + " " + addr6 + "] ports [{8080 80 tcp }]"}
	if diff := cmp.Diff(want, ports.Lines); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	var info infoResponse
	e.mustCall("NetworkDriver.EndpointOperInfo", endpointRequest{NetworkID: "net1", EndpointID: "ep1"}, &info)
	pm, _ := info.Value[optPortMap].([]any)
	if len(pm) != 1 || pm[0].(map[string]any)["HostPort"] != float64(8080) || pm[0].(map[string]any)["IP"] != addr4 {
		t.Errorf("EndpointOperInfo %v: want the 8080->80 binding to %s", info.Value, addr4)
	}
	atts, _ := e.overlay.Attachments(context.Background())
	found := false
	for _, a := range atts {
		if len(a.PortMappings) == 1 && a.PortMappings[0].HostPort == 8080 {
			found = true
		}
	}
	if !found {
		t.Errorf("overlayd's attachments %+v lack the mapping", atts)
	}
	e.mustCall("NetworkDriver.RevokeExternalConnectivity", externalRequest{NetworkID: "net1", EndpointID: "ep1"}, nil)
	e.mustCall("NetworkDriver.RevokeExternalConnectivity", externalRequest{NetworkID: "net1", EndpointID: "ep1"}, nil)
	e.stop("net1", "ep1", a4, a6)
	if diff := cmp.Diff(append(want, "unpublish ep1"), ports.Lines); diff != "" {
		t.Errorf("ports after revoke (-want +got):\n%s", diff)
	}

	// A failing publish is the call's error; without Ports -p is refused.
	a4, a6, _ = e.start("net1", "ep2", "", nil)
	ports.Fail = errors.New("host port tcp/8080 is already mapped by container c1")
	if msg := e.call("NetworkDriver.ProgramExternalConnectivity", externalRequest{NetworkID: "net1", EndpointID: "ep2", Options: portmap}, nil); !strings.Contains(msg, "already mapped by container c1") {
		t.Errorf("publish failure: %q", msg)
	}
	e.drv.ports = nil
	if msg := e.call("NetworkDriver.ProgramExternalConnectivity", externalRequest{NetworkID: "net1", EndpointID: "ep2", Options: portmap}, nil); !strings.Contains(msg, "without dcnet-portmap") {
		t.Errorf("no Ports: %q", msg)
	}
}
