package dataplane

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/google/nftables"
)

// hairpinTimeout bounds a dial that is expected to fail without the
// hairpin rule (the answer goes to the wrong place and the SYN-ACK is
// dropped or reset).
const hairpinTimeout = time.Second

// TestPrivilegedHairpin puts two containers on one Linux bridge of the node
// (as overlayd's node bridge: containers on one L2 segment, the node the
// gateway, hairpin mode on the ports as the dcnet CNI plugin sets it), each
// a backend of its own VIP: a container reaching the VIP whose only backend
// is itself, and one reaching the VIP whose backend is its bridge
// neighbour, both get an answer. It runs with bridged traffic passing
// netfilter (br_netfilter's bridge-nf-call-iptables, on wherever dockerd
// runs) and without; without the hairpin rule, the container reaching
// itself never gets an answer, and without br_netfilter neither does its
// neighbour.
func TestPrivilegedHairpin(t *testing.T) {
	netsim.Privileged(t, "nft", "ip")
	f := netsim.NewFabric(t, "l4lbhp")
	node, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := node.Run(ctx, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{
		{"ip", "-n", node.NSName, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", node.NSName, "addr", "add", "9.0.9.1/24", "dev", "br0"},
		{"ip", "-n", node.NSName, "link", "set", "br0", "up"},
	} {
		if _, err := f.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
	ctrs := map[string]*netsim.Container{}
	for i, name := range []string{"h1", "h2"} {
		c, err := node.AddContainer(name)
		if err != nil {
			t.Fatal(err)
		}
		veth := "v" + name
		for _, argv := range [][]string{
			{"ip", "-n", node.NSName, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", c.NSName},
			{"ip", "-n", node.NSName, "link", "set", veth, "master", "br0", "up"},
			{"ip", "-n", node.NSName, "link", "set", veth, "type", "bridge_slave", "hairpin", "on"},
			{"ip", "-n", c.NSName, "addr", "add", fmt.Sprintf("9.0.9.%d/24", i+2), "dev", "eth0"},
			{"ip", "-n", c.NSName, "link", "set", "eth0", "up"},
			{"ip", "-n", c.NSName, "route", "add", "default", "via", "9.0.9.1"},
		} {
			if _, err := f.Run(ctx, argv...); err != nil {
				t.Fatal(err)
			}
		}
		netsim.ServeName(t, c.Namespace, ":80", name)
		ctrs[name] = c
	}
	h, err := node.NetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	k := NewNFTables(nftables.WithNetNSFd(int(h.Fd())))
	p := mustBuild(t,
		Service{Key: ipKey("tcp", "11.0.0.5", 80), Backends: []vip.Backend{be("9.0.9.2:80")}},
		Service{Key: ipKey("tcp", "11.0.0.6", 80), Backends: []vip.Backend{be("9.0.9.3:80")}},
	)
	s := NewSyncer(k, nil)
	if _, err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	ruleset := func() string { out, _ := node.Run(ctx, "nft", "list", "ruleset"); return out }
	for _, want := range []string{
		"ct state new ct status dnat fib daddr . iif oif exists meta mark set meta mark | 0x00004000\n",
		"meta mark & 0x00004000 == 0x00004000 masquerade\n",
	} {
		if !strings.Contains(ruleset(), want) {
			t.Errorf("nft list ruleset lacks %q:\n%s", want, ruleset())
		}
	}
	cases := []struct {
		from, vip, want string
		self            bool
	}{
		{"h1", "11.0.0.5:80", "h1", true},  // its own VIP: after DNAT saddr == daddr
		{"h1", "11.0.0.6:80", "h2", false}, // its bridge neighbour's VIP
		{"h2", "11.0.0.5:80", "h1", false},
	}
	for _, brnf := range []string{"0", "1"} {
		if _, err := node.Run(ctx, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables="+brnf); err != nil {
			if brnf == "1" {
				t.Logf("br_netfilter not available, bridged netfilter mode not tested: %v", err)
				continue
			}
		}
		if _, err := s.Reconcile(p); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			counts, err := netsim.DialCount(ctrs[c.from].Namespace, 5, c.vip, dialTimeout)
			if err != nil || counts[c.want] != 5 {
				t.Errorf("bridge-nf-call-iptables=%s: %s dials %s: %v, %v; want 5 answers from %s\n%s", brnf, c.from, c.vip, counts, err, c.want, ruleset())
			}
		}
		// Without the hairpin rule the dials that need it fail: the test
		// tests the rule. Old conntrack entries do not matter: every dial
		// is a new connection from a new port.
		if _, err := node.Run(ctx, "nft", "flush", "chain", "ip", TableName, chainHairpin); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases[:2] {
			if !c.self && brnf == "1" {
				continue // bridged netfilter un-NATs the neighbour's answer itself
			}
			if counts, err := netsim.DialCount(ctrs[c.from].Namespace, 1, c.vip, hairpinTimeout); err == nil {
				t.Errorf("bridge-nf-call-iptables=%s: %s dials %s without the hairpin rule: %v, want a failure", brnf, c.from, c.vip, counts)
			}
		}
		// Reconcile sees the damaged skeleton and rebuilds it.
		if res, err := s.Reconcile(p); err != nil || !res[0].Rebuilt {
			t.Fatalf("Reconcile after flushing the hairpin chain = %+v, %v; want a rebuild", res, err)
		}
		for _, c := range cases {
			if counts, err := netsim.DialCount(ctrs[c.from].Namespace, 2, c.vip, dialTimeout); err != nil || counts[c.want] != 2 {
				t.Errorf("bridge-nf-call-iptables=%s: after repair %s dials %s: %v, %v", brnf, c.from, c.vip, counts, err)
			}
		}
	}
}
