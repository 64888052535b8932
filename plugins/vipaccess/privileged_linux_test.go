package vipaccess

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedLink: Netlink sets the link up in a container netns (the
// addresses, the gateway neighbours of the node end's MAC, the routes) and
// the node end's host routes; Verify sees it; Teardown removes both ends
// and is safe to repeat.
func TestPrivilegedLink(t *testing.T) {
	netsim.Privileged(t, "ip")
	f := netsim.NewFabric(t, "vipacc")
	node, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := node.AddContainer("c1")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ParseConfig([]byte(`{"name":"x","type":"dcnet-vipaccess","delegate":{"type":"bridge"}}`))
	if err != nil {
		t.Fatal(err)
	}
	l := Plan(conf, c.Path, "c1", netip.MustParseAddr("198.51.100.10"))
	in := func(fn func() error) error { return node.Do(func(ns.NetNS) error { return fn() }) }
	if err := in(func() error { return Netlink{}.Setup(l) }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	routes, _ := c.Run(ctx, "ip", "route", "show")
	routes6, _ := c.Run(ctx, "ip", "-6", "route", "show")
	neigh, _ := c.Run(ctx, "ip", "neigh", "show", "dev", "spartan")
	neigh6, _ := c.Run(ctx, "ip", "-6", "neigh", "show", "dev", "spartan")
	mac, _ := node.Run(ctx, "cat", "/sys/class/net/"+l.Host+"/address")
	for _, w := range []string{"default via 169.254.1.1 dev spartan src 198.51.100.10 metric 4096 onlink",
		"11.0.0.0/8 via 169.254.1.1 dev spartan src 198.51.100.10 onlink",
		"198.51.100.1 via 169.254.1.1 dev spartan src 198.51.100.10 onlink"} {
		if !strings.Contains(routes, w) {
			t.Errorf("container routes lack %q:\n%s", w, routes)
		}
	}
	if !strings.Contains(routes6, "fd01:c::/64 via fe80::1 dev spartan") || !strings.Contains(routes6, "default via fe80::1 dev spartan") {
		t.Errorf("container IPv6 routes:\n%s", routes6)
	}
	m := strings.TrimSpace(mac)
	if !strings.Contains(neigh, "169.254.1.1 lladdr "+m+" PERMANENT") || !strings.Contains(neigh6, "fe80::1 lladdr "+m+" PERMANENT") {
		t.Errorf("neighbours (node end %s):\n%s%s", m, neigh, neigh6)
	}
	host, _ := node.Run(ctx, "ip", "route", "show", "dev", l.Host)
	host6, _ := node.Run(ctx, "ip", "-6", "route", "show", "dev", l.Host)
	if !strings.Contains(host, "198.51.100.10 scope link") || !strings.Contains(host6, "fd01:d::c633:640a") {
		t.Errorf("node routes:\n%s%s", host, host6)
	}
	if err := in(func() error { return Netlink{}.Verify(c.Path, "spartan", l.Host) }); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for range 2 {
		if err := in(func() error { return Netlink{}.Teardown(c.Path, "spartan", l.Host) }); err != nil {
			t.Fatal(err)
		}
	}
	if out, _ := node.Run(ctx, "ip", "-o", "link"); strings.Contains(out, l.Host) {
		t.Errorf("node end left:\n%s", out)
	}
	if err := in(func() error { return Netlink{}.Verify(c.Path, "spartan", l.Host) }); err == nil {
		t.Error("Verify after Teardown passed")
	}
}
