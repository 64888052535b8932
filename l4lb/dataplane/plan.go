package dataplane

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"

	"github.com/dcnet/dcnet/l4lb/vip"
)

// TableName is the name of both tables, `ip dcnet-l4lb` and `ip6 dcnet-l4lb`.
const TableName = "dcnet-l4lb"

// MaxSlots bounds the backend slots of one VIP (the K of lb-K).
const MaxSlots = 1024

// IP protocol numbers, as meta l4proto sees them.
const (
	protoTCP uint8 = 6
	protoUDP uint8 = 17
)

// Family is an nftables table family: IPv4 (`ip`) or IPv6 (`ip6`).
type Family int

// The two families, in the order Sync applies them.
const (
	IPv4 Family = iota
	IPv6
)

// Families lists both families.
var Families = []Family{IPv4, IPv6}

// String is the nft family keyword.
func (f Family) String() string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

// Service is one VIP to program: its key, its address (the IP of an IP VIP,
// the allocated address of a named VIP) and its backends.
type Service struct {
	Key vip.Key
	// Addr is the VIP's address; for an IP VIP it may be left zero and is
	// then Key.IP.
	Addr     netip.Addr
	Backends []vip.Backend
	// Weights gives a backend (by address and port) more slots; a missing
	// or zero weight is 1.
	Weights map[netip.AddrPort]int
}

// ServiceKey is the kernel's key of a VIP: destination address, IP
// protocol and destination port.
type ServiceKey struct {
	Addr  netip.Addr
	Proto uint8
	Port  uint16
}

// String renders k as nft prints a map key: 11.0.0.1 . tcp . 80.
func (k ServiceKey) String() string {
	return fmt.Sprintf("%s . %s . %d", k.Addr, protoName(k.Proto), k.Port)
}

// SlotKey is the key of one backend slot of a VIP.
type SlotKey struct {
	ServiceKey
	Slot uint32
}

// String renders k as nft prints it: 11.0.0.1 . tcp . 80 . 2.
func (k SlotKey) String() string { return fmt.Sprintf("%s . %d", k.ServiceKey, k.Slot) }

// State is one family's table content that varies with the VIPs: the lb-K
// chains, the vips verdict map (K per VIP, 0 meaning novip) and the
// backends map. Plans and kernel read-backs share it.
type State struct {
	// Chains are the K of the lb-K chains, sorted.
	Chains []int
	// VIPs maps each VIP to its slot count; 0 jumps to novip.
	VIPs map[ServiceKey]int
	// Backends maps each slot to its backend.
	Backends map[SlotKey]netip.AddrPort
}

// NewState returns an empty State.
func NewState() State {
	return State{VIPs: map[ServiceKey]int{}, Backends: map[SlotKey]netip.AddrPort{}}
}

// Plan is the wanted content of both tables. A Plan from Build also
// carries a digest of every VIP's slots, which lets Syncer.Apply skip the
// VIPs that did not change without comparing their elements; a Plan built
// by hand works too, at the cost of a full Diff. A Plan passed to
// Syncer.Apply or Reconcile must not be modified afterwards: the Syncer
// keeps it as the state the kernel holds.
type Plan struct {
	Tables [2]State
	// sums holds, per family, a digest of each VIP's slot count and slot
	// backends, sorted by VIP (nil when the Plan was not made by Build).
	sums [2][]vipDigest
}

// vipDigest is one VIP's slotsDigest.
type vipDigest struct {
	key ServiceKey
	sum uint64
}

// Build plans the tables for services. A service that cannot be
// programmed (unknown protocol, no address, too many slots) is left out and
// reported; the rest are planned. Backends of the other family than their
// VIP are left out and reported.
func Build(services []Service) (Plan, []error) {
	// Sized maps: growing them element by element would make several
	// times their final size in garbage at 10,000 VIPs.
	var vips, slots [2]int
	for _, s := range services {
		f := IPv4
		if a := cmp.Or(s.Addr, s.Key.IP); a.IsValid() && !a.Unmap().Is4() {
			f = IPv6
		}
		vips[f]++
		slots[f] += len(s.Backends)
	}
	var p Plan
	for f := range p.Tables {
		p.Tables[f] = State{VIPs: make(map[ServiceKey]int, vips[f]), Backends: make(map[SlotKey]netip.AddrPort, slots[f])}
		p.sums[f] = make([]vipDigest, 0, vips[f])
	}
	var errs []error
	for _, s := range services {
		if err := p.add(s); err != nil {
			errs = append(errs, fmt.Errorf("plan vip %s: %w", s.Key, err))
		}
	}
	byKey := func(a, b vipDigest) int { return compareServiceKey(a.key, b.key) }
	for i := range p.Tables {
		p.Tables[i].Chains = chainsOf(p.Tables[i].VIPs)
		if !slices.IsSortedFunc(p.sums[i], byKey) { // callers usually pass sorted services
			slices.SortFunc(p.sums[i], byKey)
		}
	}
	return p, errs
}

func (p *Plan) add(s Service) error {
	addr := s.Addr
	if !addr.IsValid() {
		addr = s.Key.IP
	}
	if !addr.IsValid() {
		return errors.New("no address")
	}
	addr = addr.Unmap()
	proto, err := protoNumber(s.Key.Protocol)
	if err != nil {
		return err
	}
	if s.Key.Port == 0 {
		return errors.New("port 0")
	}
	fam := familyOf(addr)
	slots, err := slotsFor(addr, s.Backends, s.Weights)
	if err != nil {
		return err
	}
	key := ServiceKey{Addr: addr, Proto: proto, Port: s.Key.Port}
	t := &p.Tables[fam]
	if _, dup := t.VIPs[key]; dup {
		return fmt.Errorf("address %s already planned", key)
	}
	t.VIPs[key] = len(slots)
	for i, b := range slots {
		t.Backends[SlotKey{ServiceKey: key, Slot: uint32(i)}] = b
	}
	p.sums[fam] = append(p.sums[fam], vipDigest{key: key, sum: slotsDigest(slots)})
	return nil
}

// digestSeed keys the VIP digests; they never leave the process.
var digestSeed = maphash.MakeSeed()

// slotsDigest is a 64-bit digest of a VIP's slots (their number and
// backends, in order).
func slotsDigest(slots []netip.AddrPort) uint64 {
	var h maphash.Hash
	h.SetSeed(digestSeed)
	var buf [16 + 2 + 8]byte
	binary.LittleEndian.PutUint64(buf[18:], uint64(len(slots)))
	h.Write(buf[18:])
	for _, b := range slots {
		a := b.Addr().As16()
		copy(buf[:16], a[:])
		binary.BigEndian.PutUint16(buf[16:18], b.Port())
		h.Write(buf[:18])
	}
	return h.Sum64()
}

// slotsFor lists the backend of every slot: usable backends of the VIP's
// family, deduplicated, sorted, each repeated weight/gcd times.
func slotsFor(addr netip.Addr, backends []vip.Backend, weights map[netip.AddrPort]int) ([]netip.AddrPort, error) {
	var usable []netip.AddrPort
	for _, b := range backends {
		ap := netip.AddrPortFrom(b.IP.Unmap(), b.Port)
		if !b.Healthy || b.Draining || !ap.Addr().IsValid() || ap.Port() == 0 {
			continue
		}
		if ap.Addr().Is4() != addr.Is4() {
			return nil, fmt.Errorf("backend %s is not of the VIP's family", ap)
		}
		usable = append(usable, ap)
	}
	slices.SortFunc(usable, func(a, b netip.AddrPort) int { return a.Compare(b) })
	usable = slices.Compact(usable)
	w := make([]int, len(usable))
	g := 0
	for i, ap := range usable {
		w[i] = max(weights[ap], 1)
		g = gcd(g, w[i])
	}
	var slots []netip.AddrPort
	for i, ap := range usable {
		for range w[i] / g {
			slots = append(slots, ap)
		}
		if len(slots) > MaxSlots {
			return nil, fmt.Errorf("more than %d backend slots", MaxSlots)
		}
	}
	return slots, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func chainsOf(vips map[ServiceKey]int) []int {
	var ks []int
	for _, k := range vips {
		if k > 0 && !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

func protoNumber(p string) (uint8, error) {
	switch p {
	case vip.ProtoTCP:
		return protoTCP, nil
	case vip.ProtoUDP:
		return protoUDP, nil
	}
	return 0, fmt.Errorf("protocol %q not tcp or udp", p)
}

func protoName(p uint8) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	}
	return fmt.Sprint(p)
}

// ChainName is the name of the chain serving VIPs with k slots: lb-k, or
// novip for k = 0.
func ChainName(k int) string {
	if k == 0 {
		return chainNoVIP
	}
	return fmt.Sprintf("lb-%d", k)
}

// HairpinMark is the packet mark bit that the hairpin chain sets on the
// first packet of a VIP connection that goes back out of the interface it
// came in on, and that the postrouting chain masquerades. It is
// kube-proxy's masquerade bit (KUBE-MARK-MASQ, 0x4000): both mean
// "masquerade this connection", so the two can share a node.
const HairpinMark uint32 = 0x4000

// Chain and map names of the fixed skeleton.
const (
	chainPrerouting = "prerouting"
	chainOutput     = "output"
	chainHairpin    = "hairpin"
	chainPostrout   = "postrouting"
	chainNoVIP      = "novip"
	chainVIPAccess  = "vipaccess"
	mapVIPs         = "vips"
	mapBackends     = "backends"
)

// sortedServiceKeys returns m's keys in a stable order.
func sortedServiceKeys[V any](m map[ServiceKey]V) []ServiceKey {
	ks := make([]ServiceKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, compareServiceKey)
	return ks
}

func sortedSlotKeys[V any](m map[SlotKey]V) []SlotKey {
	ks := make([]SlotKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, compareSlotKey)
	return ks
}

func compareServiceKey(a, b ServiceKey) int {
	return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
}

func compareSlotKey(a, b SlotKey) int {
	return cmp.Or(compareServiceKey(a.ServiceKey, b.ServiceKey), cmp.Compare(a.Slot, b.Slot))
}
