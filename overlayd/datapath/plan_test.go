package datapath

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testLeases() []OverlayLease {
	P := netip.MustParsePrefix
	return []OverlayLease{
		{Bridge: "m-dcos", MTU: 1420, Masquerade: true, Range4: P("9.0.0.0/8"), NodeSubnet4: P("9.0.3.0/24")},
		{Bridge: "m-dcos6", MTU: 1420, Masquerade: true, Range6: P("fd01:b::/64"), NodeSubnet6: P("fd01:b::3:0:0:0/80")},
		{Bridge: "m-blue", MTU: 1400, Masquerade: false, Range4: P("10.8.0.0/16")},
	}
}

func TestPlan(t *testing.T) {
	got := Plan(testLeases()).String()
	want := `bridge m-blue mtu 1400 mac 0a:58:e8:00:36:db
bridge m-dcos mtu 1420 mac 0a:58:09:00:03:01
addr 9.0.3.1/24 dev m-dcos
bridge m-dcos6 mtu 1420 mac 0a:58:00:00:00:01
addr fd01:b::3:0:0:1/80 dev m-dcos6
masquerade 9.0.0.0/8
masquerade fd01:b::/64
forwarding ipv4=true ipv6=true
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	k := NewFake()
	w := Plan(testLeases())
	n, err := Apply(k, w)
	if err != nil || n == 0 {
		t.Fatalf("first apply: %d changes, %v", n, err)
	}
	n, err = Apply(k, w)
	if err != nil || n != 0 {
		t.Fatalf("second apply changed %d objects (%v), want 0", n, err)
	}
	k.Bridges["m-dcos"].Addrs = nil // hand damage
	if n, _ := Apply(k, w); n != 1 {
		t.Fatalf("repair: %d changes, want 1", n)
	}
	k.Fail = errors.New("boom")
	if _, err := Apply(k, w); err == nil {
		t.Fatal("errors must surface")
	}
}

func TestMasqueradeRules(t *testing.T) {
	nat, filter := MasqueradeRules(Masquerade{Ranges: []netip.Prefix{netip.MustParsePrefix("9.0.0.0/8")}})
	want := [][]string{{"-s", "9.0.0.0/8", "-d", "9.0.0.0/8", "-j", "RETURN"}, {"-s", "9.0.0.0/8", "-j", "MASQUERADE"}}
	if diff := cmp.Diff(want, nat); diff != "" {
		t.Error(diff)
	}
	if len(filter) != 2 {
		t.Errorf("filter rules: %v", filter)
	}
}

// TestApplyLeavesPeersWhenUnknown: before the peer list is known (store
// cache not synced after a restart) the kernel's peers are left alone.
func TestApplyLeavesPeersWhenUnknown(t *testing.T) {
	P := netip.MustParsePrefix
	k := NewFake()
	v := &VTEP{Name: "vtep1024", VNI: 1024, Port: 64000, IP: P("44.128.0.1/20"), Local: netip.MustParseAddr("198.18.0.1"), MTU: 1450}
	peer := Peer{Name: "b", Underlay: netip.MustParseAddr("198.18.0.2"), VTEPIP: netip.MustParseAddr("44.128.0.2"), Subnets: []netip.Prefix{P("9.0.1.0/24")}}
	if _, err := Apply(k, Want{VTEP: v, Self: "a", Peers: []Peer{peer}}); err != nil {
		t.Fatal(err)
	}
	before := k.String()
	n, err := Apply(k, Want{VTEP: v, Self: "a", PeersUnknown: true})
	if err != nil || n != 0 || k.String() != before {
		t.Fatalf("unknown peers changed %d objects (%v):\n%s\nwas:\n%s", n, err, k.String(), before)
	}
	if n, _ := Apply(k, Want{VTEP: v, Self: "a"}); n == 0 {
		t.Fatal("a known empty peer list must remove the peer")
	}
}
