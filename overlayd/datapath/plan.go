package datapath

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Bridge is a node bridge for one overlay.
type Bridge struct {
	Name string
	MTU  int
	// Addrs are the gateway addresses with the node subnet's length.
	Addrs []netip.Prefix
	// Ranges are the overlay ranges; other addresses found on the bridge
	// inside them are stale (an old lease) and removed.
	Ranges []netip.Prefix
}

// Masquerade says which overlay ranges of one family to masquerade when
// their traffic leaves the overlay.
type Masquerade struct {
	IPv6   bool
	Ranges []netip.Prefix
}

// Want is the node's desired kernel state.
type Want struct {
	Bridges     []Bridge
	Masquerade  [2]Masquerade // [0] IPv4, [1] IPv6
	Forwarding4 bool
	Forwarding6 bool
}

// OverlayLease is the input to Plan for one overlay.
type OverlayLease struct {
	Bridge      string
	MTU         int
	Masquerade  bool
	Range4      netip.Prefix // overlay-wide ranges (invalid when unused)
	Range6      netip.Prefix
	NodeSubnet4 netip.Prefix // the node's leased subnets (invalid when none yet)
	NodeSubnet6 netip.Prefix
}

// Gateway returns the gateway of a node subnet: its first host address.
func Gateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// Plan computes the wanted state. It is pure and deterministic.
func Plan(overlays []OverlayLease) Want {
	w := Want{Masquerade: [2]Masquerade{{IPv6: false}, {IPv6: true}}}
	for _, o := range overlays {
		b := Bridge{Name: o.Bridge, MTU: o.MTU}
		for _, pair := range [][2]netip.Prefix{{o.Range4, o.NodeSubnet4}, {o.Range6, o.NodeSubnet6}} {
			rng, sub := pair[0], pair[1]
			if !rng.IsValid() {
				continue
			}
			b.Ranges = append(b.Ranges, rng)
			v6 := rng.Addr().Is6()
			if v6 {
				w.Forwarding6 = true
			} else {
				w.Forwarding4 = true
			}
			if o.Masquerade {
				i := 0
				if v6 {
					i = 1
				}
				w.Masquerade[i].Ranges = append(w.Masquerade[i].Ranges, rng)
			}
			if sub.IsValid() {
				b.Addrs = append(b.Addrs, netip.PrefixFrom(Gateway(sub), sub.Bits()))
			}
		}
		w.Bridges = append(w.Bridges, b)
	}
	sort.Slice(w.Bridges, func(i, j int) bool { return w.Bridges[i].Name < w.Bridges[j].Name })
	for i := range w.Masquerade {
		sortPrefixes(w.Masquerade[i].Ranges)
	}
	return w
}

func sortPrefixes(ps []netip.Prefix) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].String() < ps[j].String() })
}

// String renders the wanted state one line per object, as `ip` would say it.
func (w Want) String() string {
	var b strings.Builder
	for _, br := range w.Bridges {
		fmt.Fprintf(&b, "bridge %s mtu %d\n", br.Name, br.MTU)
		for _, a := range br.Addrs {
			fmt.Fprintf(&b, "addr %s dev %s\n", a, br.Name)
		}
	}
	for _, m := range w.Masquerade {
		for _, r := range m.Ranges {
			fmt.Fprintf(&b, "masquerade %s\n", r)
		}
	}
	fmt.Fprintf(&b, "forwarding ipv4=%v ipv6=%v\n", w.Forwarding4, w.Forwarding6)
	return b.String()
}

// Kernel applies parts of the wanted state. Every method is idempotent and
// safe to call repeatedly; it reports whether it had to change anything.
type Kernel interface {
	// EnsureBridge creates the bridge if missing, sets its MTU, brings it
	// up, adds missing addresses and removes stale ones inside its ranges.
	EnsureBridge(b Bridge) (changed bool, err error)
	// EnsureMasquerade makes the node's masquerade (and forward-accept)
	// rules for one family exactly those of m.
	EnsureMasquerade(m Masquerade) (changed bool, err error)
	// EnsureForwarding enables IP forwarding for the family.
	EnsureForwarding(ipv6 bool) (changed bool, err error)
}

// Apply makes the kernel match w, returning how many objects it changed.
// It applies everything it can and returns the first error.
func Apply(k Kernel, w Want) (int, error) {
	changes := 0
	var first error
	note := func(ch bool, err error) {
		if ch {
			changes++
		}
		if err != nil && first == nil {
			first = err
		}
	}
	for _, b := range w.Bridges {
		note(k.EnsureBridge(b))
	}
	if w.Forwarding4 {
		note(k.EnsureForwarding(false))
	}
	if w.Forwarding6 {
		note(k.EnsureForwarding(true))
	}
	for _, m := range w.Masquerade {
		note(k.EnsureMasquerade(m))
	}
	return changes, first
}
