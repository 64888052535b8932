package datapath

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// VxLAN constants of the overlay.
const (
	// VXLANOverhead is the VxLAN encapsulation's size over an IPv4
	// underlay: a VTEP's MTU is the underlay MTU minus this.
	VXLANOverhead = 50
	maxVNI        = 1<<24 - 1
	maxPort       = 1<<16 - 1
	macLen        = 6
)

// vtepOUI is the OUI of every VTEP MAC, as DC/OS allocated them.
var vtepOUI = [3]byte{0x70, 0xb3, 0xd5}

// VTEP is this node's VxLAN endpoint device.
type VTEP struct {
	Name string // "vtep1024"
	VNI  int    // 1024
	Port int    // UDP dst port, 64000
	// MAC is the device's address; nil means VTEPMAC(IP).
	MAC net.HardwareAddr
	// IP is the address on the device, e.g. 44.128.0.1/20. Its masked
	// prefix is the VTEP range: other addresses found inside it are stale.
	IP netip.Prefix
	// IP6 is the IPv6 address on the device, e.g. fd01:a::1/64; invalid
	// when there is no IPv6 overlay.
	IP6 netip.Prefix
	// Local is the node's underlay address (vxlan "local").
	Local netip.Addr
	// MTU is the device MTU (underlay MTU - VXLANOverhead); 0 leaves the
	// kernel's.
	MTU int
	// NoTrack exempts the VxLAN UDP packets (to Port, in Local's family)
	// from connection tracking with raw-table NOTRACK rules: the outer
	// packets of a tunnel gain nothing from conntrack, and every inner flow
	// would otherwise hold conntrack entries for them on both nodes. False
	// removes the rules.
	NoTrack bool
}

// Peer is another node of the overlay.
type Peer struct {
	Name     string
	Underlay netip.Addr // its underlay address (FDB dst)
	VTEPIP   netip.Addr // its VTEP IPv4
	VTEPIP6  netip.Addr // its VTEP IPv6 (invalid when none)
	// MAC is its VTEP MAC; nil means VTEPMAC(VTEPIP).
	MAC net.HardwareAddr
	// Subnets are its node subnets (IPv4 and IPv6) of every overlay.
	Subnets []netip.Prefix
}

// VTEPMAC returns the VTEP MAC of a VTEP IPv4 address: the OUI 70:b3:d5
// and the address's low 24 bits, e.g. 44.128.0.1 -> 70:b3:d5:80:00:01. It
// returns nil for anything but an IPv4 address.
func VTEPMAC(ip netip.Addr) net.HardwareAddr {
	ip = ip.Unmap()
	if !ip.Is4() {
		return nil
	}
	b := ip.As4()
	return net.HardwareAddr{vtepOUI[0], vtepOUI[1], vtepOUI[2], b[1], b[2], b[3]}
}

// HardwareAddr returns the device's MAC: MAC, or VTEPMAC(IP) when unset.
func (v VTEP) HardwareAddr() net.HardwareAddr {
	if len(v.MAC) != 0 {
		return v.MAC
	}
	return VTEPMAC(v.IP.Addr())
}

// Validate reports the first field of v that cannot make a device.
func (v VTEP) Validate() error {
	switch {
	case v.Name == "" || len(v.Name) > 15:
		return fmt.Errorf("vtep name %q: want 1 to 15 characters", v.Name)
	case v.VNI < 1 || v.VNI > maxVNI:
		return fmt.Errorf("vtep %s: vni %d out of range [1, %d]", v.Name, v.VNI, maxVNI)
	case v.Port < 1 || v.Port > maxPort:
		return fmt.Errorf("vtep %s: port %d out of range [1, %d]", v.Name, v.Port, maxPort)
	case !v.IP.IsValid() || !v.IP.Addr().Is4():
		return fmt.Errorf("vtep %s: ip %q is not an IPv4 prefix", v.Name, v.IP)
	case v.IP6.IsValid() && !v.IP6.Addr().Is6():
		return fmt.Errorf("vtep %s: ip6 %s is not an IPv6 prefix", v.Name, v.IP6)
	case !v.Local.IsValid():
		return fmt.Errorf("vtep %s: local underlay address missing", v.Name)
	case len(v.HardwareAddr()) != macLen:
		return fmt.Errorf("vtep %s: mac %q is not a 6-byte MAC", v.Name, v.MAC)
	case v.MTU < 0:
		return fmt.Errorf("vtep %s: mtu %d is negative", v.Name, v.MTU)
	}
	return nil
}

// addrs returns the device's wanted addresses and the ranges in which other
// addresses are stale.
func (v VTEP) addrs() (addrs, ranges []netip.Prefix) {
	for _, p := range []netip.Prefix{v.IP, v.IP6} {
		if p.IsValid() {
			addrs = append(addrs, p)
			ranges = append(ranges, p.Masked())
		}
	}
	return addrs, ranges
}

// String renders the device as one line, the way the fake prints it.
func (v VTEP) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vtep %s id %d port %d local %s mac %s", v.Name, v.VNI, v.Port, v.Local, v.HardwareAddr())
	addrs, _ := v.addrs()
	for _, a := range addrs {
		fmt.Fprintf(&b, " addr %s", a)
	}
	if v.MTU > 0 {
		fmt.Fprintf(&b, " mtu %d", v.MTU)
	}
	if v.NoTrack {
		fmt.Fprintf(&b, " notrack")
	}
	return b.String()
}

// Neigh is a permanent neighbour on the VTEP: a peer's VTEP IP -> VTEP MAC.
type Neigh struct {
	IP  netip.Addr
	MAC net.HardwareAddr
}

// FDBEntry is a permanent forwarding entry on the VTEP: a peer's VTEP MAC
// -> its underlay address.
type FDBEntry struct {
	MAC net.HardwareAddr
	Dst netip.Addr
}

// Route is a route on the VTEP: a peer's node subnet via its VTEP IP.
type Route struct {
	Dst    netip.Prefix
	Via    netip.Addr // invalid for a route without a gateway (never wanted)
	OnLink bool
	// Metric is the route's priority; 0 stands for the family's default
	// (IPv4 0, IPv6 1024), which is what PlanPeers wants.
	Metric int
}

// PeerState is the per-peer kernel state on the VTEP, as plain data: what
// PlanPeers wants or what the kernel has. Each slice is sorted.
type PeerState struct {
	Neighs []Neigh
	FDB    []FDBEntry
	Routes []Route
}

// ErrNoVTEP is returned when peer state is applied to a missing VTEP.
var ErrNoVTEP = errors.New("vtep device missing")

// PlanPeers computes the VTEP's wanted per-peer state, as DC/OS programmed
// it: for every peer one permanent neighbour (VTEP IPv4 -> MAC, and VTEP
// IPv6 -> MAC when both sides have IPv6), one permanent FDB entry (MAC ->
// underlay) and one onlink route per node subnet (IPv4 via the VTEP IPv4,
// IPv6 via the VTEP IPv6; an IPv6 subnet is left out when either side has
// no VTEP IPv6).
//
// It is pure and deterministic, whatever the order of peers, and runs in
// O(n log n) without maps. The node itself is never programmed: a peer named
// self, or with our VTEP IP or our underlay address, is skipped. So is a
// peer without a VTEP IPv4 or an underlay address. Where peers collide (a
// double allocation: the same VTEP IP, MAC or subnet), each key is planned
// once, for the lowest claimant: the neighbour with the lowest MAC, the FDB
// entry with the lowest underlay address, the route via the lowest VTEP IP.
// A nil vtep wants nothing.
func PlanPeers(v *VTEP, self string, peers []Peer) PeerState {
	var st PeerState
	if v == nil {
		return st
	}
	our4, our6 := v.IP.Addr(), v.IP6.Addr()
	local := v.Local.Unmap()
	order := make([]int, len(peers))
	for i := range order {
		order[i] = i
	}
	// VTEP IP order makes the output nearly sorted already, so the final
	// sorts are close to linear in the usual case.
	slices.SortFunc(order, func(a, b int) int { return peers[a].VTEPIP.Unmap().Compare(peers[b].VTEPIP.Unmap()) })
	macs := make(net.HardwareAddr, 0, macLen*len(peers)) // one backing array for every MAC
	st.FDB = make([]FDBEntry, 0, len(peers))
	neighs6 := make([]Neigh, 0, len(peers))
	routes6 := make([]Route, 0, len(peers))
	st.Neighs = make([]Neigh, 0, 2*len(peers))
	st.Routes = make([]Route, 0, 2*len(peers))
	for _, i := range order {
		p := &peers[i]
		ip4, under := p.VTEPIP.Unmap(), p.Underlay.Unmap()
		if (self != "" && p.Name == self) || !ip4.Is4() || !under.IsValid() || ip4 == our4 || under == local {
			continue
		}
		mac := p.MAC
		if len(mac) == 0 {
			mac = VTEPMAC(ip4)
		}
		if len(mac) != macLen {
			continue
		}
		macs = append(macs, mac...)
		mac = macs[len(macs)-macLen : len(macs) : len(macs)]
		ip6 := p.VTEPIP6
		has6 := our6.IsValid() && ip6.Is6() && ip6 != our6
		st.Neighs = append(st.Neighs, Neigh{IP: ip4, MAC: mac})
		if has6 {
			neighs6 = append(neighs6, Neigh{IP: ip6, MAC: mac})
		}
		st.FDB = append(st.FDB, FDBEntry{MAC: mac, Dst: under})
		for _, s := range p.Subnets {
			switch {
			case !s.IsValid():
			case s.Addr().Is4():
				st.Routes = append(st.Routes, Route{Dst: s.Masked(), Via: ip4, OnLink: true})
			case has6:
				routes6 = append(routes6, Route{Dst: s.Masked(), Via: ip6, OnLink: true})
			}
		}
	}
	st.Neighs = append(st.Neighs, neighs6...)
	st.Routes = append(st.Routes, routes6...)
	st.sort()
	// Sorted by key first, then value: the lowest claimant of a key leads
	// its run.
	st.Neighs = slices.CompactFunc(st.Neighs, func(a, b Neigh) bool { return a.IP == b.IP })
	st.FDB = slices.CompactFunc(st.FDB, func(a, b FDBEntry) bool { return bytes.Equal(a.MAC, b.MAC) })
	st.Routes = slices.CompactFunc(st.Routes, func(a, b Route) bool { return a.Dst == b.Dst })
	return st
}

func (s *PeerState) sort() {
	slices.SortFunc(s.Neighs, compareNeigh)
	slices.SortFunc(s.FDB, compareFDB)
	slices.SortFunc(s.Routes, compareRoute)
}

func compareNeigh(a, b Neigh) int {
	if c := a.IP.Compare(b.IP); c != 0 {
		return c
	}
	return bytes.Compare(a.MAC, b.MAC)
}

func compareFDB(a, b FDBEntry) int {
	if c := bytes.Compare(a.MAC, b.MAC); c != 0 {
		return c
	}
	return a.Dst.Compare(b.Dst)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func compareRoute(a, b Route) int {
	if c := comparePrefix(a.Dst, b.Dst); c != 0 {
		return c
	}
	if c := a.Via.Compare(b.Via); c != 0 {
		return c
	}
	return a.Metric - b.Metric
}

// line renders the neighbour on dev as the fake prints it.
func (n Neigh) line(dev string) string {
	return fmt.Sprintf("neigh %s lladdr %s dev %s permanent", n.IP, n.MAC, dev)
}

func (e FDBEntry) line(dev string) string {
	return fmt.Sprintf("fdb %s dst %s dev %s", e.MAC, e.Dst, dev)
}

func (r Route) line(dev string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "route %s", r.Dst)
	if r.Via.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Via)
	}
	fmt.Fprintf(&b, " dev %s", dev)
	if r.OnLink {
		b.WriteString(" onlink")
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	return b.String()
}

// Lines renders the state on device dev, one object per line, sorted.
func (s PeerState) Lines(dev string) []string {
	lines := make([]string, 0, len(s.Neighs)+len(s.FDB)+len(s.Routes))
	for _, e := range s.FDB {
		lines = append(lines, e.line(dev))
	}
	for _, n := range s.Neighs {
		lines = append(lines, n.line(dev))
	}
	for _, r := range s.Routes {
		lines = append(lines, r.line(dev))
	}
	slices.Sort(lines)
	return lines
}
