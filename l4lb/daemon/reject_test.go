package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vip"
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
	plan, errs := dataplane.Build(Plan(out))
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
