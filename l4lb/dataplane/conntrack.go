package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Conntrack is the node's connection tracking table, as the Syncer needs
// it.
type Conntrack interface {
	// DeleteUDP deletes the UDP entries of flows: those whose original
	// destination is a flow's VIP and whose reply source is its Backend.
	// Entries already gone are no error. It returns how many it deleted
	// and is safe to call repeatedly.
	DeleteUDP(flows []UDPFlow) (int, error)
}

// UDPFlow names the conntrack entries of UDP traffic sent to VIP and
// answered by Backend. For entries that were never translated (sent while
// the VIP had no backend) Backend is the VIP itself.
type UDPFlow struct {
	VIP     netip.AddrPort
	Backend netip.AddrPort
}

// String renders f as FakeConntrack prints it: udp 11.0.0.1:53 via 9.0.1.2:53.
func (f UDPFlow) String() string { return fmt.Sprintf("udp %s via %s", f.VIP, f.Backend) }

var _ Conntrack = (*FakeConntrack)(nil)

// FakeConntrack is an in-memory Conntrack: Entries are the flows of live
// entries, one per entry. String prints the flows deleted so far.
type FakeConntrack struct {
	// Entries are the live entries; DeleteUDP removes the matching ones.
	Entries []UDPFlow
	// Deleted lists every flow passed to DeleteUDP, in order.
	Deleted []UDPFlow
	// Fail, when set, is returned by DeleteUDP, which then deletes nothing.
	Fail error
}

// DeleteUDP implements Conntrack.
func (c *FakeConntrack) DeleteUDP(flows []UDPFlow) (int, error) {
	if c.Fail != nil {
		return 0, c.Fail
	}
	c.Deleted = append(c.Deleted, flows...)
	n := len(c.Entries)
	c.Entries = slices.DeleteFunc(c.Entries, func(e UDPFlow) bool { return slices.Contains(flows, e) })
	return n - len(c.Entries), nil
}

// String prints the deleted flows, one a line.
func (c *FakeConntrack) String() string {
	var b strings.Builder
	for _, f := range c.Deleted {
		fmt.Fprintf(&b, "delete %s\n", f)
	}
	return b.String()
}
