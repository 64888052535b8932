package vroute

import (
	"net/netip"
	"slices"
	"testing"
)

var (
	named4 = netip.MustParsePrefix("11.0.0.0/8")
	named6 = netip.MustParsePrefix("fd01:c::/64")
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestPlan(t *testing.T) {
	a := netip.MustParseAddr
	got := Plan([]netip.Prefix{named4, named6}, []netip.Addr{a("11.0.0.37"), a("1.1.1.7"), a("::ffff:1.1.1.7"),
		a("fd01:c::1"), a("fd01:e::80"), a("10.200.0.80"), {}})
	want := prefixes("1.1.1.7/32", "10.200.0.80/32", "11.0.0.0/8", "fd01:c::/64", "fd01:e::80/128")
	if !slices.Equal(got, want) {
		t.Errorf("Plan = %v, want %v", got, want)
	}
}

func TestDiff(t *testing.T) {
	add, del := Diff(prefixes("11.0.0.0/8", "1.1.1.7/32"), prefixes("11.0.0.0/8", "fd01:c::/64"))
	if !slices.Equal(add, prefixes("fd01:c::/64")) || !slices.Equal(del, prefixes("1.1.1.7/32")) {
		t.Errorf("Diff: add %v del %v", add, del)
	}
}

// TestSyncer: the first Apply reads back and creates the link; the same
// plan again changes nothing and reads nothing; a change is one route
// each way; Reconcile repairs hand damage (a route or the link deleted).
func TestSyncer(t *testing.T) {
	f := NewFake()
	s := NewSyncer(f)
	want := prefixes("1.1.1.7/32", "11.0.0.0/8", "fd01:c::/64")
	r, err := s.Apply(want)
	if err != nil || !r.LinkChanged || r.Added != 3 || !r.ReadBack {
		t.Fatalf("first Apply = %+v, %v", r, err)
	}
	const state = "link minuteman\n1.1.1.7/32 dev minuteman proto 220\n11.0.0.0/8 dev minuteman proto 220\nfd01:c::/64 dev minuteman proto 220\n"
	if f.String() != state {
		t.Errorf("kernel:\n%s", f.String())
	}
	calls := f.Calls
	if r, err := s.Apply(want); err != nil || r.Changed() || r.ReadBack || f.Calls != calls {
		t.Errorf("second Apply = %+v, %v (%d calls)", r, err, f.Calls-calls)
	}
	if r, err := s.Apply(want[1:]); err != nil || r.Deleted != 1 || r.Added != 0 {
		t.Errorf("Apply without the IP VIP = %+v, %v", r, err)
	}
	f.DelRoute(netip.MustParsePrefix("11.0.0.0/8"))
	if r, err := s.Reconcile(want[1:]); err != nil || r.Added != 1 {
		t.Errorf("Reconcile after a deleted route = %+v, %v", r, err)
	}
	f.DeleteLink()
	if r, err := s.Reconcile(want[1:]); err != nil || !r.LinkChanged || r.Added != 2 {
		t.Errorf("Reconcile after a deleted link = %+v, %v\n%s", r, err, f.String())
	}
	if r, err := s.Reconcile(want[1:]); err != nil || r.Changed() {
		t.Errorf("Reconcile of a healthy kernel = %+v, %v", r, err)
	}
}
