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
	want := `bridge m-blue mtu 1400
bridge m-dcos mtu 1420
addr 9.0.3.1/24 dev m-dcos
bridge m-dcos6 mtu 1420
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
