package vipaccess

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dcnet/dcnet/plugins/veth"
)

// Netlink is the Kernel of a real node.
type Netlink struct{}

var _ Kernel = Netlink{}

// Setup implements Kernel.
func (Netlink) Setup(l Link) error {
	hostNS, err := ns.GetCurrentNS()
	if err != nil {
		return fmt.Errorf("open node netns: %w", err)
	}
	defer hostNS.Close()
	contNS, err := ns.GetNS(l.NetNS)
	if err != nil {
		return fmt.Errorf("open container netns: %w", err)
	}
	defer contNS.Close()
	err = contNS.Do(func(ns.NetNS) error {
		if _, err := netlink.LinkByName(l.IfName); err == nil {
			return fmt.Errorf("%s in netns %s: %w", l.IfName, l.NetNS, veth.ErrExists)
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name = l.IfName
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: l.Host, PeerNamespace: netlink.NsFd(int(hostNS.Fd()))})
	})
	if err != nil {
		return fmt.Errorf("create veth %s (node end %s): %w", l.IfName, l.Host, err)
	}
	if err := setup(l, contNS); err != nil {
		_ = Netlink{}.Teardown(l.NetNS, l.IfName, l.Host)
		return err
	}
	return nil
}

func setup(l Link, contNS ns.NetNS) error {
	host, err := netlink.LinkByName(l.Host)
	if err != nil {
		return fmt.Errorf("look up node end %s: %w", l.Host, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", l.Host, err)
	}
	mac := host.Attrs().HardwareAddr
	for _, a := range []netip.Addr{l.Addr4, l.Addr6} {
		if !a.IsValid() {
			continue
		}
		r := &netlink.Route{LinkIndex: host.Attrs().Index, Dst: ipNet(netip.PrefixFrom(a, a.BitLen())), Scope: netlink.SCOPE_LINK}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("route %s dev %s: %w", a, l.Host, err)
		}
	}
	return contNS.Do(func(ns.NetNS) error { return configure(l, mac) })
}

// configure sets up the container end: addresses, gateway neighbours,
// routes; runs in the container netns.
func configure(l Link, mac net.HardwareAddr) error {
	link, err := netlink.LinkByName(l.IfName)
	if err != nil {
		return fmt.Errorf("look up %s: %w", l.IfName, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", l.IfName, err)
	}
	idx := link.Attrs().Index
	for _, a := range []netip.Addr{l.Addr4, l.Addr6} {
		if !a.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(a, a.BitLen()))}
		if a.Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("add address %s to %s (ipv6:false in the config if the container has no IPv6): %w", a, l.IfName, err)
		}
		gw, fam := gateway4, netlink.FAMILY_V4
		if a.Is6() {
			gw, fam = gateway6, netlink.FAMILY_V6
		}
		n := &netlink.Neigh{LinkIndex: idx, Family: fam, State: netlink.NUD_PERMANENT, IP: gw.AsSlice(), HardwareAddr: mac}
		if err := netlink.NeighSet(n); err != nil {
			return fmt.Errorf("neighbour %s lladdr %s dev %s: %w", gw, mac, l.IfName, err)
		}
	}
	for _, r := range l.Routes {
		src, gw := l.Addr4, gateway4
		if r.Dst.Addr().Is6() {
			src, gw = l.Addr6, gateway6
		}
		if !src.IsValid() {
			continue
		}
		rt := &netlink.Route{LinkIndex: idx, Dst: ipNet(r.Dst), Gw: gw.AsSlice(), Src: src.AsSlice(), Priority: r.Metric,
			Flags: int(netlink.FLAG_ONLINK)}
		if err := netlink.RouteReplace(rt); err != nil {
			return fmt.Errorf("route %s via %s dev %s: %w", r.Dst, gw, l.IfName, err)
		}
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Teardown implements Kernel.
func (Netlink) Teardown(netns, ifName, host string) error {
	return veth.Netlink{}.Teardown(netns, ifName, host)
}

// Verify implements Kernel.
func (Netlink) Verify(netns, ifName, host string) error {
	if _, err := netlink.LinkByName(host); err != nil {
		return fmt.Errorf("node end %s: %w", host, err)
	}
	return ns.WithNetNSPath(netns, func(ns.NetNS) error {
		if _, err := netlink.LinkByName(ifName); err != nil {
			return fmt.Errorf("%s in netns %s: %w", ifName, netns, err)
		}
		return nil
	})
}
