package datapath

import (
	"fmt"
	"hash/fnv"
	"net"
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
	// MAC is set explicitly: a Linux bridge without one takes the lowest
	// MAC of its ports, so it would change whenever a container comes or
	// goes and containers' cached gateway neighbour would go stale.
	MAC net.HardwareAddr
}

// bridgeMACPrefix starts every bridge MAC: locally administered, unicast.
var bridgeMACPrefix = []byte{0x0a, 0x58}

// BridgeMAC is the stable MAC of a bridge: 0a:58 followed by its first
// IPv4 gateway address (0a:58:09:00:03:01 for 9.0.3.1), or by the last four
// bytes of its first gateway address, or of a hash of its name when it has
// no address yet.
func BridgeMAC(name string, addrs []netip.Prefix) net.HardwareAddr {
	var tail []byte
	for _, a := range addrs {
		if a.Addr().Is4() {
			tail = a.Addr().AsSlice()
			break
		}
	}
	if tail == nil && len(addrs) > 0 {
		b := addrs[0].Addr().AsSlice()
		tail = b[len(b)-4:]
	}
	if tail == nil {
		h := fnv.New32a()
		h.Write([]byte(name))
		tail = h.Sum(nil)
	}
	return net.HardwareAddr(append(append([]byte{}, bridgeMACPrefix...), tail...))
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
	// VTEP is the node's VxLAN device; nil means no overlay device yet
	// (e.g. a single node before its VTEP IP is allocated), and then Peers
	// are not programmed either.
	VTEP *VTEP
	// Self is the node's own name; a peer of that name is skipped.
	Self string
	// Peers are the overlay's nodes; the node itself may be among them.
	Peers []Peer
	// PeersUnknown says the peer list is not known yet (the store cache has
	// never synced, e.g. right after a restart): the kernel's peer entries
	// are left exactly as they are rather than planned away.
	PeersUnknown bool
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
		b.MAC = BridgeMAC(b.Name, b.Addrs)
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
		fmt.Fprintf(&b, "bridge %s mtu %d mac %s\n", br.Name, br.MTU, br.MAC)
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
	if w.VTEP != nil {
		fmt.Fprintln(&b, w.VTEP)
		for _, l := range PlanPeers(w.VTEP, w.Self, w.Peers).Lines(w.VTEP.Name) {
			fmt.Fprintln(&b, l)
		}
	}
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
	// EnsureVTEP creates the VxLAN device if missing and adopts an existing
	// one whose VNI, port and local address match, fixing its MAC, MTU, up
	// state and addresses in place (stale addresses inside the VTEP ranges
	// are removed). Only a device with another VNI, port or local address
	// is deleted and recreated. It never touches the device's neighbours,
	// FDB or routes otherwise.
	EnsureVTEP(v VTEP) (changed bool, err error)
	// EnsurePeers reads the VTEP's permanent neighbours, permanent FDB
	// entries and routes, and makes them exactly want (see DiffPeers):
	// entries already right are not written, wrong or missing ones are
	// replaced in place, left-over ones are deleted. It applies everything
	// it can and returns the number of writes and the first error.
	EnsurePeers(v VTEP, want PeerState) (changes int, err error)
	// ApplyPeerChanges applies a precomputed diff without reading the
	// kernel first: the fast path for one store change, between full
	// EnsurePeers reconciles that read everything back.
	ApplyPeerChanges(v VTEP, c PeerChanges) (changes int, err error)
}

// Apply makes the kernel match w, returning how many objects it changed:
// bridges, forwarding, masquerade, then, when w.VTEP is set, the VTEP device
// and its peers (every neighbour, FDB or route write counts). It applies
// everything it can and returns the first error.
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
	if w.VTEP != nil {
		note(k.EnsureVTEP(*w.VTEP))
		if !w.PeersUnknown {
			n, err := k.EnsurePeers(*w.VTEP, PlanPeers(w.VTEP, w.Self, w.Peers))
			changes += n
			note(false, err)
		}
	}
	return changes, first
}
