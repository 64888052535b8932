package veth

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/plugins/internal/nstest"
)

// setupNode returns a node netns with bridge m-dcos and a spec for one
// container netns.
func setupNode(t *testing.T) (ns.NetNS, ns.NetNS, Spec) {
	netsim.Privileged(t)
	node, cont := nstest.NewNS(t), nstest.NewNS(t)
	nstest.Bridge(t, node, "m-dcos", "9.0.3.1/24")
	ip, n, _ := net.ParseCIDR("9.0.3.2/24")
	n.IP = ip.To4()
	return node, cont, Spec{
		NetNS: cont.Path(), IfName: "eth0", HostName: "vethtest0", Bridge: "m-dcos", MTU: 1420, Hairpin: true,
		Addrs: []*net.IPNet{n}, Gateways: []net.IP{net.ParseIP("9.0.3.1").To4()},
	}
}

func inNS(t *testing.T, n ns.NetNS, f func() error) error {
	t.Helper()
	var ferr error
	if err := n.Do(func(ns.NetNS) error { ferr = f(); return nil }); err != nil {
		t.Fatal(err)
	}
	return ferr
}

func TestPrivilegedVerify(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, node, cont ns.NetNS, s *Spec)
		want   string // "" for no error
	}{
		{name: "as set up"},
		{name: "extra address", want: "has addresses [9.0.3.7/24] that the attachment does not",
			mutate: func(t *testing.T, _, cont ns.NetNS, _ *Spec) {
				mustDo(t, cont, func() error { return addAddr("eth0", "9.0.3.7/24") })
			}},
		{name: "link down", want: "is down",
			mutate: func(t *testing.T, _, cont ns.NetNS, _ *Spec) {
				mustDo(t, cont, func() error { return setDown("eth0") })
			}},
		{name: "other mtu", want: "mtu 1420, want 1500",
			mutate: func(_ *testing.T, _, _ ns.NetNS, s *Spec) { s.MTU = 1500 }},
		{name: "other gateway", want: "no default route via 9.0.3.254",
			mutate: func(_ *testing.T, _, _ ns.NetNS, s *Spec) { s.Gateways = []net.IP{net.ParseIP("9.0.3.254")} }},
		{name: "host end off the bridge", want: "host end vethtest0 of eth0 is not on bridge m-dcos",
			mutate: func(t *testing.T, node, _ ns.NetNS, _ *Spec) {
				mustDo(t, node, func() error { return setNoMaster("vethtest0") })
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node, cont, s := setupNode(t)
			if err := inNS(t, node, func() error { _, _, err := (Netlink{}).Setup(s); return err }); err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if tt.mutate != nil {
				tt.mutate(t, node, cont, &s)
			}
			err := inNS(t, node, func() error { return Netlink{}.Verify(s) })
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Verify: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Verify: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPrivilegedSetupKeepsOthers(t *testing.T) {
	node, cont, s := setupNode(t)
	if err := inNS(t, node, func() error { _, _, err := (Netlink{}).Setup(s); return err }); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	// A second container whose host end name collides must fail without
	// touching the first pair.
	other := nstest.NewNS(t)
	s2 := s
	s2.NetNS = other.Path()
	err := inNS(t, node, func() error { _, _, err := (Netlink{}).Setup(s2); return err })
	if err == nil {
		t.Fatal("Setup with a taken host name succeeded")
	}
	// The same container again: ErrExists, nothing removed.
	err = inNS(t, node, func() error { _, _, err := (Netlink{}).Setup(s); return err })
	if !errors.Is(err, ErrExists) {
		t.Errorf("second Setup: %v, want ErrExists", err)
	}
	if err := inNS(t, node, func() error { return Netlink{}.Probe(s.NetNS, s.IfName) }); !errors.Is(err, ErrExists) {
		t.Errorf("Probe: %v, want ErrExists", err)
	}
	if err := inNS(t, node, func() error { return Netlink{}.Verify(s) }); err != nil {
		t.Errorf("first pair after the failed Setups: %v", err)
	}
	if err := inNS(t, other, func() error { _, err := netlink.LinkByName("eth0"); return err }); err == nil {
		t.Error("the failed Setup left eth0 in the other container")
	}
	for range 2 {
		if err := inNS(t, node, func() error { return Netlink{}.Teardown(s.NetNS, s.IfName, s.HostName) }); err != nil {
			t.Errorf("Teardown: %v", err)
		}
	}
	if err := inNS(t, node, func() error { _, err := netlink.LinkByName("vethtest0"); return err }); err == nil {
		t.Error("host end left after Teardown")
	}
	_ = cont
}

func TestPrivilegedTeardownRefusesNonVeth(t *testing.T) {
	node, _, _ := setupNode(t)
	err := inNS(t, node, func() error { return Netlink{}.Teardown("", "", "m-dcos") })
	if err == nil || !strings.Contains(err.Error(), "not a veth") {
		t.Errorf("Teardown of the bridge: %v, want a refusal", err)
	}
}

func mustDo(t *testing.T, n ns.NetNS, f func() error) {
	t.Helper()
	if err := inNS(t, n, f); err != nil {
		t.Fatal(err)
	}
}

func addAddr(ifName, cidr string) error {
	link, err := netlink.LinkByName(ifName)
	if err != nil {
		return err
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	return netlink.AddrAdd(link, a)
}

func setDown(ifName string) error {
	link, err := netlink.LinkByName(ifName)
	if err != nil {
		return err
	}
	return netlink.LinkSetDown(link)
}

func setNoMaster(ifName string) error {
	link, err := netlink.LinkByName(ifName)
	if err != nil {
		return err
	}
	return netlink.LinkSetNoMaster(link)
}
