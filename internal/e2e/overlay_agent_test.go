package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// TestPrivilegedOverlayAgentEndpoint reads overlayd's Mesos overlay module
// endpoint (GET /overlay-agent/overlay on the metrics address) as DC/OS's
// test_if_overlay_ok does: every overlay STATUS_OK, with its node subnet,
// bridge and VTEP.
func TestPrivilegedOverlayAgentEndpoint(t *testing.T) {
	netsim.Privileged(t, "ping", "iptables")
	f := netsim.NewFabric(t, "eoagent")
	nd := startNode(t, f, "node1", "", "--metrics-addr", "127.0.0.1:62091")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) { return nd.DialTCP(ctx, addr) }}}
	resp, err := client.Get("http://127.0.0.1:62091" + api.PathOverlayAgent)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got api.OverlayAgent
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %v %s", resp.Status, err, body)
	}
	nets, err := nd.client.Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.IP != nd.UnderlayIP.String() || len(got.Overlays) != len(nets) || len(got.Overlays) == 0 {
		t.Fatalf("agent info %s: want ip %s and %d overlays", body, nd.UnderlayIP, len(nets))
	}
	for i, o := range got.Overlays {
		n := nets[i]
		if o.State.Status != api.OverlayStatusOK || o.Info.Name != n.Name || o.Subnet != n.NodeSubnet || o.Subnet6 != n.NodeSubnet6 ||
			o.MesosBridge == nil || o.MesosBridge.Name != n.Bridge || o.Backend.VxLAN.VTEPName != "vtep1024" || o.Backend.VxLAN.VNI != 1024 {
			t.Errorf("overlay %d: %+v, want %s STATUS_OK with its subnets, bridge %s and vtep1024", i, o, n.Name, n.Bridge)
		}
		if n.Subnet != "" && (o.Info.Prefix != 24 || o.MesosBridge.IP == "" || o.Backend.VxLAN.VTEPIP == "") {
			t.Errorf("overlay %s: prefix %d bridge ip %q vtep ip %q", n.Name, o.Info.Prefix, o.MesosBridge.IP, o.Backend.VxLAN.VTEPIP)
		}
	}
}
