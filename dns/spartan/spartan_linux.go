package spartan

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Ensure puts every address of want that no link holds onto link, creating
// it when needed. It returns the addresses it added.
func Ensure(link string, want []netip.Addr) ([]netip.Addr, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var local []netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			local = append(local, ip.Unmap())
		}
	}
	add := Missing(want, local)
	if len(add) == 0 {
		return nil, nil
	}
	l, err := ensureLink(link)
	if err != nil {
		return nil, err
	}
	for _, a := range add {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}}
		if a.Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("add %s to %s: %w", a, link, err)
		}
	}
	return add, nil
}

// ensureLink returns the link, creating it (dummy, else bridge) and bringing
// it up.
func ensureLink(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("find link %s: %w", name, err)
		}
		la := netlink.NewLinkAttrs()
		la.Name = name
		if err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: la}); err != nil {
			// No dummy type in this kernel: a bridge without ports holds
			// addresses just as well.
			if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
				return nil, fmt.Errorf("create link %s (dummy, then bridge): %w", name, err)
			}
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("find link %s after creating it: %w", name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("set %s up: %w", name, err)
	}
	return l, nil
}

// LinkAddrs returns the addresses link holds; none (and no error) when
// there is no such link.
func LinkAddrs(link string) ([]netip.Addr, error) {
	l, err := netlink.LinkByName(link)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, nil
		}
		return nil, fmt.Errorf("find link %s: %w", link, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", link, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}
