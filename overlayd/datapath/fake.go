package datapath

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

var _ Kernel = (*Fake)(nil)

// Fake is an in-memory Kernel for tests; String prints its state.
type Fake struct {
	Bridges    map[string]*Bridge
	Masq       [2][]netip.Prefix
	Forwarding [2]bool
	// VTEP is the VxLAN device, nil until EnsureVTEP makes it.
	VTEP *VTEP
	// Peers is the VTEP's neighbour, FDB and route state; tests may edit
	// it to simulate hand damage.
	Peers PeerState
	// Recreated counts VTEPs deleted and recreated for a changed VNI, port
	// or local address.
	Recreated int
	// Fail, when set, is returned by every method.
	Fail error
}

// NewFake returns an empty fake kernel.
func NewFake() *Fake { return &Fake{Bridges: map[string]*Bridge{}} }

// EnsureBridge implements Kernel.
func (f *Fake) EnsureBridge(b Bridge) (bool, error) {
	if f.Fail != nil {
		return false, f.Fail
	}
	cur, ok := f.Bridges[b.Name]
	if ok && cur.MTU == b.MTU && samePrefixes(cur.Addrs, b.Addrs) && cur.MAC.String() == b.MAC.String() {
		return false, nil
	}
	c := b
	c.Addrs = append([]netip.Prefix(nil), b.Addrs...)
	f.Bridges[b.Name] = &c
	return true, nil
}

// EnsureMasquerade implements Kernel.
func (f *Fake) EnsureMasquerade(m Masquerade) (bool, error) {
	if f.Fail != nil {
		return false, f.Fail
	}
	i := 0
	if m.IPv6 {
		i = 1
	}
	if samePrefixes(f.Masq[i], m.Ranges) {
		return false, nil
	}
	f.Masq[i] = append([]netip.Prefix(nil), m.Ranges...)
	return true, nil
}

// EnsureForwarding implements Kernel.
func (f *Fake) EnsureForwarding(ipv6 bool) (bool, error) {
	if f.Fail != nil {
		return false, f.Fail
	}
	i := 0
	if ipv6 {
		i = 1
	}
	if f.Forwarding[i] {
		return false, nil
	}
	f.Forwarding[i] = true
	return true, nil
}

func samePrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String prints the fake's state, sorted, one object per line.
func (f *Fake) String() string {
	var lines []string
	for _, b := range f.Bridges {
		lines = append(lines, fmt.Sprintf("bridge %s mtu %d mac %s", b.Name, b.MTU, b.MAC))
		for _, a := range b.Addrs {
			lines = append(lines, fmt.Sprintf("addr %s dev %s", a, b.Name))
		}
	}
	for _, ms := range f.Masq {
		for _, r := range ms {
			lines = append(lines, fmt.Sprintf("masquerade %s", r))
		}
	}
	lines = append(lines, fmt.Sprintf("forwarding ipv4=%v ipv6=%v", f.Forwarding[0], f.Forwarding[1]))
	if f.VTEP != nil {
		lines = append(lines, f.VTEP.String())
		lines = append(lines, f.Peers.Lines(f.VTEP.Name)...)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
