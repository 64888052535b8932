package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/l4lb/vroute"
)

// TestRejecter: a VIP whose last backend went stays without backends
// (rejecting) for the grace period, a named one only while its address is
// allocated; one that gets a backend back is programmed normally.
func TestRejecter(t *testing.T) {
	a := netip.MustParseAddr
	b := vip.Backend{IP: a("9.0.1.2"), Port: 80, Healthy: true}
	named := Service{Key: vip.Key{Protocol: "tcp", Name: webName, Port: 80}, Addr: a("11.0.0.37"), Backends: []vip.Backend{b}, All: []vip.Backend{b}}
	ipv := Service{Key: vip.Key{Protocol: "udp", IP: a("1.1.1.7"), Port: 53}, Addr: a("1.1.1.7"), Backends: []vip.Backend{b}, All: []vip.Backend{b}}
	addrs := map[AllocKey]netip.Addr{{dataplane.IPv4, webName}: a("11.0.0.37")}
	r := newRejecter(time.Minute)
	t0 := time.Unix(1000, 0)
	if out, n := r.apply([]Service{named, ipv}, addrs, t0); n != 0 || len(out) != 2 {
		t.Fatalf("with backends: %d added, %d services", n, len(out))
	}
	out, n := r.apply(nil, addrs, t0.Add(time.Second))
	if n != 2 || len(out) != 2 || !out[0].Rejecting || len(out[0].Backends) != 0 || out[0].Addr != named.Addr {
		t.Fatalf("both gone: %d added: %+v", n, out)
	}
	plan, errs := dataplane.Build(Plan(out, "a1"))
	if len(errs) > 0 || plan.Tables[dataplane.IPv4].VIPs[dataplane.ServiceKey{Addr: a("1.1.1.7"), Proto: 17, Port: 53}] != 0 {
		t.Errorf("a rejecting VIP must be planned with 0 slots (novip): %v %v", plan.Tables[dataplane.IPv4].VIPs, errs)
	}
	// The name is released: only the IP VIP stays.
	if out, _ := r.apply(nil, map[AllocKey]netip.Addr{}, t0.Add(2*time.Second)); len(out) != 1 || out[0].Key != ipv.Key {
		t.Errorf("after the release: %+v", out)
	}
	// The grace period ends: withdrawn.
	if out, _ := r.apply(nil, addrs, t0.Add(2*time.Minute)); len(out) != 0 {
		t.Errorf("after the grace period: %+v", out)
	}
	// Back with a backend, gone again: a new grace period.
	r.apply([]Service{ipv}, addrs, t0.Add(3*time.Minute))
	if out, n := r.apply(nil, addrs, t0.Add(3*time.Minute+time.Second)); n != 1 || len(out) != 1 {
		t.Errorf("gone again: %d added %+v", n, out)
	}
}

// TestSyncRoutesAndRejects: a sync routes the named ranges and each
// programmed IP VIP to minuteman; when the IP VIP's last backend goes, it
// stays programmed as novip (rejecting) with its route, and /v1/dcnet/vips
// says so.
func TestSyncRoutesAndRejects(t *testing.T) {
	d := offlineDaemon(t)
	routes := vroute.NewFake()
	d.routes = vroute.NewSyncer(routes)
	e := ep("a1", "c1", map[string]string{"VIP_0": "10.200.0.80:80"}, "9.0.1.2/24")
	putEndpoint(d, e)
	d.sync(t.Context(), false)
	want := "link minuteman\n10.200.0.80/32 dev minuteman proto 220\n11.0.0.0/8 dev minuteman proto 220\nfd01:c::/64 dev minuteman proto 220\n"
	if routes.String() != want {
		t.Errorf("routes after the sync:\n%s\nwant\n%s", routes.String(), want)
	}
	d.endpoints.Update([]cluster.Change{{Key: cluster.EndpointKey(e.Node, e.Network, e.ContainerID, e.IfName)}})
	d.sync(t.Context(), false)
	det := d.Details()
	if len(det.VIPs) != 1 || det.VIPs[0].State != l4lbapi.StateRejecting || len(det.VIPs[0].Backends) != 0 {
		t.Errorf("after the last backend went: %+v", det.VIPs)
	}
	if routes.String() != want {
		t.Errorf("a rejecting IP VIP keeps its route:\n%s", routes.String())
	}
	if !d.Programmed(netip.MustParseAddr("10.200.0.80")) {
		t.Error("a rejecting VIP is programmed (novip)")
	}
}
