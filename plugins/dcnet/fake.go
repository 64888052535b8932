package dcnet

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/plugins/veth"
)

// FakeKernel is an in-memory Kernel for tests: one entry per veth pair.
type FakeKernel struct {
	// ProbeErr and SetupErr, when set, are returned by Probe and Setup
	// (Setup then creates nothing).
	ProbeErr error
	SetupErr error
	// BeforeTeardown, when set, is called at the start of every Teardown
	// (a test sees what overlayd holds at that moment).
	BeforeTeardown func()

	mu    sync.Mutex
	pairs []veth.Spec
}

var _ Kernel = (*FakeKernel)(nil)

// Probe fails with ProbeErr or when the container has ifName already.
func (k *FakeKernel) Probe(netns, ifName string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ProbeErr != nil {
		return k.ProbeErr
	}
	if k.find(netns, ifName) >= 0 {
		return fmt.Errorf("%s in netns %s: %w", ifName, netns, veth.ErrExists)
	}
	return nil
}

// Setup records the pair; MACs derive from the host end's name.
func (k *FakeKernel) Setup(s veth.Spec) (host, cont veth.Link, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.SetupErr != nil {
		return host, cont, k.SetupErr
	}
	if k.find(s.NetNS, s.IfName) >= 0 {
		return host, cont, fmt.Errorf("%s in netns %s: %w", s.IfName, s.NetNS, veth.ErrExists)
	}
	if slices.ContainsFunc(k.pairs, func(p veth.Spec) bool { return p.HostName == s.HostName }) {
		return host, cont, fmt.Errorf("create veth %s (host end %s): file exists", s.IfName, s.HostName)
	}
	k.pairs = append(k.pairs, s)
	return veth.Link{Name: s.HostName, MAC: fakeMAC(0x0a, s.HostName), Index: 2 * len(k.pairs)},
		veth.Link{Name: s.IfName, MAC: fakeMAC(0x0e, s.HostName), Index: 2},
		nil
}

// Teardown forgets the pair of netns/ifName and the pair of hostName.
func (k *FakeKernel) Teardown(netns, ifName, hostName string) error {
	if k.BeforeTeardown != nil {
		k.BeforeTeardown()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pairs = slices.DeleteFunc(k.pairs, func(p veth.Spec) bool {
		return (netns != "" && p.NetNS == netns && p.IfName == ifName) || (hostName != "" && p.HostName == hostName)
	})
	return nil
}

// Verify compares s with the recorded pair.
func (k *FakeKernel) Verify(s veth.Spec) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.find(s.NetNS, s.IfName)
	if i < 0 {
		return fmt.Errorf("interface %s in netns %s: link not found", s.IfName, s.NetNS)
	}
	got := k.pairs[i]
	switch {
	case s.MTU != 0 && got.MTU != s.MTU:
		return fmt.Errorf("interface %s has mtu %d, want %d", s.IfName, got.MTU, s.MTU)
	case ipNets(got.Addrs) != ipNets(s.Addrs):
		return fmt.Errorf("interface %s has addresses [%s], want [%s]", s.IfName, ipNets(got.Addrs), ipNets(s.Addrs))
	case ips(got.Gateways) != ips(s.Gateways):
		return fmt.Errorf("interface %s has default routes via [%s], want [%s]", s.IfName, ips(got.Gateways), ips(s.Gateways))
	case s.HostName != "" && got.HostName != s.HostName:
		return fmt.Errorf("host end of %s is %s, want %s", s.IfName, got.HostName, s.HostName)
	}
	return nil
}

// RemoveAddrs drops the addresses of netns/ifName, as an operator's
// "ip addr flush" would.
func (k *FakeKernel) RemoveAddrs(netns, ifName string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i := k.find(netns, ifName); i >= 0 {
		k.pairs[i].Addrs = nil
	}
}

// String lists the pairs, one a line, sorted:
// "vethXXXXXXXX master m-dcos mtu 1420 hairpin on <-> /run/netns/c1 eth0 9.0.3.2/24 via 9.0.3.1".
func (k *FakeKernel) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines := make([]string, 0, len(k.pairs))
	for _, p := range k.pairs {
		hairpin := "off"
		if p.Hairpin {
			hairpin = "on"
		}
		lines = append(lines, fmt.Sprintf("%s master %s mtu %d hairpin %s <-> %s %s %s via %s",
			p.HostName, p.Bridge, p.MTU, hairpin, p.NetNS, p.IfName, ipNets(p.Addrs), ips(p.Gateways)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func (k *FakeKernel) find(netns, ifName string) int {
	return slices.IndexFunc(k.pairs, func(p veth.Spec) bool { return p.NetNS == netns && p.IfName == ifName })
}

func fakeMAC(first byte, hostName string) string {
	h := strings.TrimPrefix(hostName, "veth") + "00000000"
	return fmt.Sprintf("%02x:00:%s:%s:%s:%s", first, h[0:2], h[2:4], h[4:6], h[6:8])
}

func ipNets(ns []*net.IPNet) string {
	s := make([]string, 0, len(ns))
	for _, n := range ns {
		s = append(s, n.String())
	}
	return strings.Join(s, ",")
}

func ips(as []net.IP) string {
	s := make([]string, 0, len(as))
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}
