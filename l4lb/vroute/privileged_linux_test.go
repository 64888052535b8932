package vroute

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedRoutes: in a node netns without a default route, a
// Syncer on the netlink Kernel creates minuteman (a port-less bridge where
// the kernel has no dummy type: this one), routes the named ranges and an
// IP VIP through it, leaves the kernel's own routes alone, repairs a
// deleted route and a deleted link, and deletes what it no longer wants.
func TestPrivilegedRoutes(t *testing.T) {
	netsim.Privileged(t, "ip")
	f := netsim.NewFabric(t, "vroute")
	node, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := func(fn func() error) {
		t.Helper()
		if err := node.Do(func(ns.NetNS) error { return fn() }); err != nil {
			t.Fatal(err)
		}
	}
	show := func() string {
		out, err := node.Run(ctx, "ip", "-d", "route", "show", "proto", "220")
		out6, err6 := node.Run(ctx, "ip", "-6", "route", "show", "proto", "220")
		if err != nil || err6 != nil {
			t.Fatal(err, err6)
		}
		return out + out6
	}
	s := NewSyncer(Netlink{})
	want := Plan([]netip.Prefix{netip.MustParsePrefix("11.0.0.0/8"), netip.MustParsePrefix("fd01:c::/64")},
		[]netip.Addr{netip.MustParseAddr("10.200.0.80")})
	in(func() error { _, err := s.Reconcile(want); return err })
	got := show()
	for _, w := range []string{"10.200.0.80 dev minuteman", "11.0.0.0/8 dev minuteman", "fd01:c::/64 dev minuteman"} {
		if !strings.Contains(got, w) {
			t.Errorf("routes lack %q:\n%s", w, got)
		}
	}
	link, err := node.Run(ctx, "ip", "-d", "link", "show", LinkName)
	if err != nil || !strings.Contains(link, "NOARP") || !strings.Contains(link, ",UP") {
		t.Errorf("link %s (%v):\n%s", LinkName, err, link)
	}
	all, _ := node.Run(ctx, "ip", "route", "show")
	if !strings.Contains(all, "198.18.0.0/15 dev eth0 proto kernel") {
		t.Errorf("the kernel's own route is gone:\n%s", all)
	}
	// Hand damage: one route, then the link.
	if _, err := node.Run(ctx, "ip", "route", "del", "11.0.0.0/8", "dev", LinkName); err != nil {
		t.Fatal(err)
	}
	var r Result
	in(func() error { r, err = s.Reconcile(want); return err })
	if r.Added != 1 || r.Deleted != 0 {
		t.Errorf("Reconcile after ip route del = %+v", r)
	}
	if _, err := node.Run(ctx, "ip", "link", "del", LinkName); err != nil {
		t.Fatal(err)
	}
	in(func() error { r, err = s.Reconcile(want); return err })
	if !r.LinkChanged || r.Added != len(want) {
		t.Errorf("Reconcile after ip link del = %+v:\n%s", r, show())
	}
	in(func() error { r, err = s.Reconcile(want); return err })
	if r.Changed() {
		t.Errorf("Reconcile of a healthy node = %+v", r)
	}
	in(func() error { r, err = s.Apply(want[1:]); return err })
	if r.Deleted != 1 || strings.Contains(show(), "10.200.0.80") {
		t.Errorf("Apply without the IP VIP = %+v:\n%s", r, show())
	}
}
