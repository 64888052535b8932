package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// MaxElementsPerMessage bounds the elements of one netlink message. The
// largest element (an IPv6 backends entry: a 28-byte key, 20-byte data and
// attribute headers) takes under 100 bytes, so a message stays well under
// the 64 KiB that one netlink message may carry.
const MaxElementsPerMessage = 500

// VIPElem is one element of the vips verdict map: VIP → lb-K (K = 0 is
// novip).
type VIPElem struct {
	Key   ServiceKey
	Slots int
}

// BackendElem is one element of the backends map.
type BackendElem struct {
	Key     SlotKey
	Backend netip.AddrPort
}

// Changes is what turns one family's table from one State into another,
// in the order it must be applied: AddChains, DelVIPs, DelBackends,
// AddBackends, AddVIPs, DelChains. A changed element is a delete and an
// add of the same key.
type Changes struct {
	AddChains   []int
	DelVIPs     []VIPElem
	DelBackends []BackendElem
	AddBackends []BackendElem
	AddVIPs     []VIPElem
	DelChains   []int
}

// Empty reports whether c changes nothing.
func (c Changes) Empty() bool { return c.Count() == 0 }

// Count is the number of chain and element operations in c.
func (c Changes) Count() int {
	return len(c.AddChains) + len(c.DelVIPs) + len(c.DelBackends) + len(c.AddBackends) + len(c.AddVIPs) + len(c.DelChains)
}

// Diff computes the changes from have to want. It is pure and costs one
// map lookup per element of either state; only the changes are sorted.
func Diff(want, have State) Changes {
	var c Changes
	for _, k := range want.Chains {
		if !slices.Contains(have.Chains, k) {
			c.AddChains = append(c.AddChains, k)
		}
	}
	for _, k := range have.Chains {
		if !slices.Contains(want.Chains, k) {
			c.DelChains = append(c.DelChains, k)
		}
	}
	for k, n := range have.VIPs {
		if m, ok := want.VIPs[k]; !ok || m != n {
			c.DelVIPs = append(c.DelVIPs, VIPElem{Key: k, Slots: n})
		}
	}
	for k, n := range want.VIPs {
		if m, ok := have.VIPs[k]; !ok || m != n {
			c.AddVIPs = append(c.AddVIPs, VIPElem{Key: k, Slots: n})
		}
	}
	for k, b := range have.Backends {
		if w, ok := want.Backends[k]; !ok || w != b {
			c.DelBackends = append(c.DelBackends, BackendElem{Key: k, Backend: b})
		}
	}
	for k, b := range want.Backends {
		if h, ok := have.Backends[k]; !ok || h != b {
			c.AddBackends = append(c.AddBackends, BackendElem{Key: k, Backend: b})
		}
	}
	byVIP := func(a, b VIPElem) int { return compareServiceKey(a.Key, b.Key) }
	bySlot := func(a, b BackendElem) int { return compareSlotKey(a.Key, b.Key) }
	slices.SortFunc(c.DelVIPs, byVIP)
	slices.SortFunc(c.AddVIPs, byVIP)
	slices.SortFunc(c.DelBackends, bySlot)
	slices.SortFunc(c.AddBackends, bySlot)
	return c
}

// Chunks splits elems into runs of at most n (n ≥ 1), one per netlink
// message.
func Chunks[E any](elems []E, n int) [][]E {
	if n < 1 {
		n = 1
	}
	var out [][]E
	for len(elems) > 0 {
		m := min(n, len(elems))
		out = append(out, elems[:m:m])
		elems = elems[m:]
	}
	return out
}

// String lists c one operation a line, as a test can compare.
func (c Changes) String() string {
	var b strings.Builder
	for _, k := range c.AddChains {
		fmt.Fprintf(&b, "add chain %s\n", ChainName(k))
	}
	for _, e := range c.DelVIPs {
		fmt.Fprintf(&b, "del vips %s : jump %s\n", e.Key, ChainName(e.Slots))
	}
	for _, e := range c.DelBackends {
		fmt.Fprintf(&b, "del backends %s : %s\n", e.Key, backendString(e.Backend))
	}
	for _, e := range c.AddBackends {
		fmt.Fprintf(&b, "add backends %s : %s\n", e.Key, backendString(e.Backend))
	}
	for _, e := range c.AddVIPs {
		fmt.Fprintf(&b, "add vips %s : jump %s\n", e.Key, ChainName(e.Slots))
	}
	for _, k := range c.DelChains {
		fmt.Fprintf(&b, "del chain %s\n", ChainName(k))
	}
	return b.String()
}

// backendString renders a backend as nft prints map data: 9.0.1.2 . 80.
func backendString(ap netip.AddrPort) string {
	return fmt.Sprintf("%s . %d", ap.Addr(), ap.Port())
}
