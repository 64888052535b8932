package datapath

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// dumpTries bounds the retries of a netlink dump that the kernel
	// interrupted because the table changed under it.
	dumpTries = 5
	// ip6DefaultMetric is the metric the kernel gives an IPv6 route added
	// without one (IP6_RT_PRIO_USER).
	ip6DefaultMetric = 1024
)

// EnsureVTEP implements Kernel.
func (n *Netlink) EnsureVTEP(v VTEP) (bool, error) {
	if err := v.Validate(); err != nil {
		return false, err
	}
	changed := false
	link, err := netlink.LinkByName(v.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		if link, err = createVTEP(v); err != nil {
			return false, err
		}
		changed = true
	case err != nil:
		return false, fmt.Errorf("find vtep %s: %w", v.Name, err)
	default:
		vx, ok := link.(*netlink.Vxlan)
		if !ok {
			return false, fmt.Errorf("link %s exists but is a %s, not a vxlan: remove it or choose another vtep name", v.Name, link.Type())
		}
		if why := vtepMismatch(vx, v); why != "" {
			// Neither VNI, port nor local can change on a live device.
			if n.Log != nil {
				n.Log.Warn("recreating vtep", "dev", v.Name, "reason", why)
			}
			if err := netlink.LinkDel(link); err != nil && !errors.As(err, &nf) {
				return false, fmt.Errorf("delete vtep %s (%s): %w", v.Name, why, err)
			}
			if link, err = createVTEP(v); err != nil {
				return true, err
			}
			changed = true
		}
	}
	ch, err := fixVTEP(link, v)
	if err != nil {
		return changed || ch, err
	}
	nt, err := n.ensureNoTrack(v)
	return changed || ch || nt, err
}

// vtepMismatch says why an existing vxlan device cannot be adopted as v, or
// returns "" when it can.
func vtepMismatch(vx *netlink.Vxlan, v VTEP) string {
	if vx.VxlanId != v.VNI {
		return fmt.Sprintf("vni %d, want %d", vx.VxlanId, v.VNI)
	}
	if vx.Port != v.Port {
		return fmt.Sprintf("port %d, want %d", vx.Port, v.Port)
	}
	local, _ := netip.AddrFromSlice(vx.SrcAddr)
	if local.Unmap() != v.Local.Unmap() {
		return fmt.Sprintf("local %s, want %s", local.Unmap(), v.Local)
	}
	return ""
}

func createVTEP(v VTEP) (netlink.Link, error) {
	la := netlink.NewLinkAttrs()
	la.Name = v.Name
	la.MTU = v.MTU
	la.HardwareAddr = v.HardwareAddr()
	vx := &netlink.Vxlan{
		LinkAttrs: la,
		VxlanId:   v.VNI,
		Port:      v.Port,
		SrcAddr:   v.Local.AsSlice(),
		Learning:  true,
	}
	if err := netlink.LinkAdd(vx); err != nil {
		return nil, fmt.Errorf("create vtep %s (vxlan id %d dstport %d local %s): %w", v.Name, v.VNI, v.Port, v.Local, err)
	}
	link, err := netlink.LinkByName(v.Name)
	if err != nil {
		return nil, fmt.Errorf("find vtep %s after creating it: %w", v.Name, err)
	}
	return link, nil
}

// fixVTEP sets MAC, MTU, up state and addresses of an adopted device.
func fixVTEP(link netlink.Link, v VTEP) (bool, error) {
	changed := false
	if mac := v.HardwareAddr(); !bytes.Equal(link.Attrs().HardwareAddr, mac) {
		if err := netlink.LinkSetHardwareAddr(link, mac); err != nil {
			return changed, fmt.Errorf("set mac %s on vtep %s: %w", mac, v.Name, err)
		}
		changed = true
	}
	if v.MTU > 0 && link.Attrs().MTU != v.MTU {
		if err := netlink.LinkSetMTU(link, v.MTU); err != nil {
			return changed, fmt.Errorf("set mtu %d on vtep %s: %w", v.MTU, v.Name, err)
		}
		changed = true
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return changed, fmt.Errorf("set vtep %s up: %w", v.Name, err)
		}
		changed = true
	}
	addrs, ranges := v.addrs()
	ch, err := ensureAddrs(link, Bridge{Name: v.Name, Addrs: addrs, Ranges: ranges})
	return changed || ch, err
}

// EnsurePeers implements Kernel.
func (n *Netlink) EnsurePeers(v VTEP, want PeerState) (int, error) {
	link, err := netlink.LinkByName(v.Name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return 0, fmt.Errorf("program peers on %s: %w", v.Name, ErrNoVTEP)
		}
		return 0, fmt.Errorf("find vtep %s: %w", v.Name, err)
	}
	if _, ok := link.(*netlink.Vxlan); !ok {
		return 0, fmt.Errorf("program peers on %s: link is a %s, not a vxlan", v.Name, link.Type())
	}
	have, err := ReadPeerState(link)
	if err != nil {
		return 0, err
	}
	return applyPeerChanges(link, DiffPeers(have, want))
}

// ApplyPeerChanges implements Kernel.
func (n *Netlink) ApplyPeerChanges(v VTEP, c PeerChanges) (int, error) {
	if c.Len() == 0 {
		return 0, nil
	}
	link, err := netlink.LinkByName(v.Name)
	if err != nil {
		return 0, fmt.Errorf("find vtep %s: %w", v.Name, err)
	}
	return applyPeerChanges(link, c)
}

// ReadPeerState reads the peer state of a VTEP from the kernel: its
// permanent neighbours (not learned ones, not IPv6 link-local), its
// permanent FDB entries with a destination (not the device's own or zero
// MAC), and the routes of the main table through it (not the kernel's
// connected ones).
func ReadPeerState(link netlink.Link) (PeerState, error) {
	var s PeerState
	idx, name := link.Attrs().Index, link.Attrs().Name
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		ns, err := dump(func() ([]netlink.Neigh, error) { return netlink.NeighList(idx, fam) })
		if err != nil {
			return s, fmt.Errorf("list neighbours of %s: %w", name, err)
		}
		for _, nb := range ns {
			ip, ok := netip.AddrFromSlice(nb.IP)
			ip = ip.Unmap()
			if !ok || nb.State&netlink.NUD_PERMANENT == 0 || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
				continue
			}
			s.Neighs = append(s.Neighs, Neigh{IP: ip, MAC: nb.HardwareAddr})
		}
	}
	fdb, err := dump(func() ([]netlink.Neigh, error) { return netlink.NeighList(idx, unix.AF_BRIDGE) })
	if err != nil {
		return s, fmt.Errorf("list fdb of %s: %w", name, err)
	}
	own := link.Attrs().HardwareAddr
	for _, e := range fdb {
		dst, ok := netip.AddrFromSlice(e.IP)
		mac := e.HardwareAddr
		if !ok || e.Flags&netlink.NTF_SELF == 0 || e.State&netlink.NUD_PERMANENT == 0 ||
			len(mac) != macLen || mac[0]&1 != 0 || bytes.Equal(mac, make([]byte, macLen)) || bytes.Equal(mac, own) {
			continue
		}
		s.FDB = append(s.FDB, FDBEntry{MAC: mac, Dst: dst.Unmap()})
	}
	routes, err := dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_ALL,
			&netlink.Route{LinkIndex: idx, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return s, fmt.Errorf("list routes of %s: %w", name, err)
	}
	for _, r := range routes {
		if r.Protocol == unix.RTPROT_KERNEL || r.Type != unix.RTN_UNICAST || r.Dst == nil {
			continue
		}
		dst, ok := prefixOf(r.Dst)
		if !ok {
			continue
		}
		via, _ := netip.AddrFromSlice(r.Gw)
		metric := r.Priority
		if dst.Addr().Is6() && metric == ip6DefaultMetric {
			metric = 0
		}
		s.Routes = append(s.Routes, Route{Dst: dst.Masked(), Via: via.Unmap(), OnLink: r.Flags&int(netlink.FLAG_ONLINK) != 0, Metric: metric})
	}
	s.sort()
	return s, nil
}

// dump runs a netlink dump, retrying (a bounded number of times) when the
// kernel interrupted it because the table changed meanwhile.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpTries {
		var out []T
		if out, err = list(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

// applyPeerChanges writes c in its order, tolerating deletes of entries
// that are already gone; it returns the writes that changed something and
// the first error.
func applyPeerChanges(link netlink.Link, c PeerChanges) (int, error) {
	idx, dev := link.Attrs().Index, link.Attrs().Name
	n := 0
	var first error
	do := func(err error, what string) {
		switch {
		case err == nil:
			n++
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH):
			// a delete of something already gone
		case first == nil:
			first = fmt.Errorf("%s: %w", what, err)
		}
	}
	for _, e := range c.SetFDB {
		do(netlink.NeighSet(fdbNeigh(idx, e)), fmt.Sprintf("add fdb %s dst %s dev %s", e.MAC, e.Dst, dev))
	}
	for _, nb := range c.SetNeighs {
		do(netlink.NeighSet(ipNeigh(idx, nb)), fmt.Sprintf("add neigh %s lladdr %s dev %s", nb.IP, nb.MAC, dev))
	}
	for _, r := range c.SetRoutes {
		do(netlink.RouteReplace(kernelRoute(idx, r)), fmt.Sprintf("add route %s via %s dev %s onlink", r.Dst, r.Via, dev))
	}
	for _, r := range c.DelRoutes {
		do(netlink.RouteDel(kernelRoute(idx, r)), fmt.Sprintf("delete route %s via %s dev %s", r.Dst, r.Via, dev))
	}
	for _, nb := range c.DelNeighs {
		do(netlink.NeighDel(ipNeigh(idx, nb)), fmt.Sprintf("delete neigh %s dev %s", nb.IP, dev))
	}
	for _, e := range c.DelFDB {
		do(netlink.NeighDel(fdbNeigh(idx, e)), fmt.Sprintf("delete fdb %s dst %s dev %s", e.MAC, e.Dst, dev))
	}
	return n, first
}

func fdbNeigh(idx int, e FDBEntry) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    idx,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT,
		Flags:        netlink.NTF_SELF,
		IP:           e.Dst.AsSlice(),
		HardwareAddr: e.MAC,
	}
}

func ipNeigh(idx int, nb Neigh) *netlink.Neigh {
	fam := netlink.FAMILY_V4
	if nb.IP.Is6() {
		fam = netlink.FAMILY_V6
	}
	return &netlink.Neigh{
		LinkIndex:    idx,
		Family:       fam,
		State:        netlink.NUD_PERMANENT,
		IP:           nb.IP.AsSlice(),
		HardwareAddr: nb.MAC,
	}
}

func kernelRoute(idx int, r Route) *netlink.Route {
	kr := &netlink.Route{
		LinkIndex: idx,
		Dst:       &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())},
		Table:     unix.RT_TABLE_MAIN,
		Priority:  r.Metric,
	}
	if r.Via.IsValid() {
		kr.Gw = r.Via.AsSlice()
	}
	if r.OnLink {
		kr.Flags = int(netlink.FLAG_ONLINK)
	}
	if r.Metric == 0 && r.Dst.Addr().Is6() {
		kr.Priority = ip6DefaultMetric
	}
	return kr
}
