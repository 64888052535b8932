package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dcnet/dcnet/l4lb/vip"
)

func TestHolderKeepsVIPsLostWithTheirNodes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	be := func(node string) vip.Backend {
		return vip.Backend{IP: netip.MustParseAddr("9.0.1.2"), Port: 80, Node: node, Healthy: true}
	}
	svc := func(name string, nodes ...string) Service {
		s := Service{Key: vip.Key{Name: name, Protocol: "tcp", Port: 80}, Addr: netip.MustParseAddr("11.0.0.1")}
		for _, n := range nodes {
			s.All = append(s.All, be(n))
		}
		s.Backends = s.All
		return s
	}
	h := newHolder(time.Minute)
	web, db := svc("web.marathon.l4lb.thisdcos.directory", "a1"), svc("db.marathon.l4lb.thisdcos.directory", "a2")
	if out, n := h.apply([]Service{web, db}, map[string]bool{"a1": true, "a2": true}, t0); len(out) != 2 || n != 0 {
		t.Fatalf("first: %d services, %d held", len(out), n)
	}
	// a1 loses liveness and web's records go with it; db's container is
	// removed while a2 stays alive.
	out, n := h.apply(nil, map[string]bool{"a2": true}, t0.Add(time.Second))
	if n != 1 || len(out) != 1 || out[0].Key != web.Key {
		t.Fatalf("after a1 went: %v (%d held), want web held and db gone", out, n)
	}
	// Still held within the bound, dropped after it.
	if _, n := h.apply(nil, map[string]bool{"a2": true}, t0.Add(50*time.Second)); n != 1 {
		t.Errorf("web not held at 50 s (bound 1 min)")
	}
	if out, n := h.apply(nil, map[string]bool{"a2": true}, t0.Add(62*time.Second)); n != 0 || len(out) != 0 {
		t.Errorf("web still held after the bound: %v", out)
	}
	// A VIP back with its records is not held twice.
	h = newHolder(time.Minute)
	h.apply([]Service{web}, map[string]bool{"a1": true}, t0)
	h.apply(nil, nil, t0.Add(time.Second))
	if out, n := h.apply([]Service{web}, map[string]bool{"a1": true}, t0.Add(2*time.Second)); n != 0 || len(out) != 1 {
		t.Errorf("web back: %d services, %d held, want 1 and 0", len(out), n)
	}
}
