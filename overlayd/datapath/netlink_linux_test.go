package datapath

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"

	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedNetlinkApply applies a plan in a fresh netns, checks the
// kernel, re-applies (no change), then repairs hand damage.
func TestPrivilegedNetlinkApply(t *testing.T) {
	netsim.Privileged(t, "iptables")
	nsx, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsx.Close(); testutils.UnmountNS(nsx) })
	w := Plan(testLeases())
	k := NewNetlink()
	in := func(f func() error) {
		t.Helper()
		if err := nsx.Do(func(ns.NetNS) error { return f() }); err != nil {
			t.Fatal(err)
		}
	}
	in(func() error { _, err := Apply(k, w); return err })
	in(func() error {
		n, err := Apply(k, w)
		if n != 0 {
			t.Errorf("second apply changed %d objects", n)
		}
		return err
	})
	// In the steady state one iptables-save per table shows every chain in
	// sync, so a reconcile execs nothing else for them.
	in(func() error {
		if len(w.Masquerade) == 0 {
			t.Fatal("test plan without masquerade")
		}
		for _, m := range w.Masquerade {
			nat, filter := MasqueradeRules(m)
			for _, c := range []struct {
				table, chain, parent string
				rules                [][]string
			}{{"nat", ChainMasq, "POSTROUTING", nat}, {"filter", ChainForward, "FORWARD", filter}} {
				proto := iptables.ProtocolIPv4
				if m.IPv6 {
					proto = iptables.ProtocolIPv6
				}
				saved, err := saveTable(proto, c.table)
				if err != nil {
					return err
				}
				if !chainInSync(saved, c.chain, c.rules, []string{c.parent}) {
					t.Errorf("%s/%s (IPv6 %t) not in sync right after apply:\n%s", c.table, c.chain, m.IPv6, saved)
				}
				if chainInSync(saved, c.chain, append(c.rules, []string{"-j", "ACCEPT"}), []string{c.parent}) {
					t.Errorf("%s/%s: in sync with a rule it does not have", c.table, c.chain)
				}
			}
		}
		return nil
	})
	ip := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"-n", nsName(nsx)}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
		return string(out)
	}
	// The bridge MAC is pinned: a port with a lower MAC does not change it.
	ip("link", "add", "lowmac", "mtu", "1420", "address", "02:00:00:00:00:01", "type", "veth", "peer", "name", "lowmac-p")
	ip("link", "set", "lowmac", "master", "m-dcos", "up")
	if a := ip("addr", "show", "m-dcos"); !strings.Contains(a, "9.0.3.1/24") || !strings.Contains(a, "mtu 1420") || !strings.Contains(a, "0a:58:09:00:03:01") {
		t.Fatalf("m-dcos: %s", a)
	}
	if a := ip("addr", "show", "m-dcos6"); !strings.Contains(a, "fd01:b::3:0:0:1/80") {
		t.Fatalf("m-dcos6: %s", a)
	}
	// Hand damage: a deleted address, a stale address, a deleted bridge, a flushed chain.
	ip("addr", "del", "9.0.3.1/24", "dev", "m-dcos")
	ip("addr", "add", "9.0.7.1/24", "dev", "m-dcos")
	ip("link", "del", "m-dcos6")
	out, err := exec.Command("ip", "netns", "exec", nsName(nsx), "iptables", "-t", "nat", "-F", ChainMasq).CombinedOutput()
	if err != nil {
		t.Fatalf("flush: %v %s", err, out)
	}
	in(func() error {
		n, err := Apply(k, w)
		if n < 3 {
			t.Errorf("repair changed %d objects, want >= 3", n)
		}
		return err
	})
	a := ip("addr", "show", "m-dcos")
	if !strings.Contains(a, "9.0.3.1/24") || strings.Contains(a, "9.0.7.1") {
		t.Fatalf("m-dcos not repaired: %s", a)
	}
	ip("addr", "show", "m-dcos6")
	save, _ := exec.Command("ip", "netns", "exec", nsName(nsx), "iptables-save", "-t", "nat").CombinedOutput()
	if !strings.Contains(string(save), "-A DCNET-POSTROUTING -s 9.0.0.0/8 -j MASQUERADE") {
		t.Fatalf("masquerade not repaired:\n%s", save)
	}
	// The last port leaving resets the kernel's bridge MTU to 1500: that is
	// not damage (no traffic) and reports no repair.
	ip("link", "del", "lowmac")
	in(func() error {
		n, err := Apply(k, w)
		if n != 0 {
			t.Errorf("apply after the last port left changed %d objects", n)
		}
		return err
	})
	// A non-bridge link with the bridge's name is a clear error.
	in(func() error {
		netlink.LinkDel(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "m-blue"}})
		return nil
	})
	ip("link", "add", "m-blue", "type", "veth", "peer", "name", "m-blue-p")
	in(func() error {
		_, err := k.EnsureBridge(Bridge{Name: "m-blue", MTU: 1400})
		if err == nil || !strings.Contains(err.Error(), "not a bridge") {
			t.Errorf("want 'not a bridge' error, got %v", err)
		}
		return nil
	})
}

func nsName(n ns.NetNS) string {
	p := n.Path()
	return p[strings.LastIndexByte(p, '/')+1:]
}
