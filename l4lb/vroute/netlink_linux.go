package vroute

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var _ Kernel = (*Netlink)(nil)

// Netlink is the Kernel of the namespace it runs in.
type Netlink struct{}

// EnsureLink implements Kernel.
func (Netlink) EnsureLink() (bool, error) {
	changed := false
	l, err := netlink.LinkByName(LinkName)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		attrs := netlink.NewLinkAttrs()
		attrs.Name = LinkName
		if err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: attrs}); err != nil {
			// No dummy type in this kernel: a bridge without ports.
			if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
				return false, fmt.Errorf("create %s (dummy, then bridge): %w", LinkName, err)
			}
		}
		changed = true
		if l, err = netlink.LinkByName(LinkName); err != nil {
			return changed, err
		}
	case err != nil:
		return false, err
	}
	if l.Attrs().RawFlags&unix.IFF_NOARP == 0 {
		if err := netlink.LinkSetARPOff(l); err != nil {
			return changed, fmt.Errorf("set %s noarp: %w", LinkName, err)
		}
		changed = true
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(l); err != nil {
			return changed, fmt.Errorf("set %s up: %w", LinkName, err)
		}
		changed = true
	}
	return changed, nil
}

// Routes implements Kernel.
func (Netlink) Routes() ([]netip.Prefix, error) {
	l, err := netlink.LinkByName(LinkName)
	if err != nil {
		return nil, err
	}
	filter := &netlink.Route{LinkIndex: l.Attrs().Index, Protocol: Protocol, Table: unix.RT_TABLE_MAIN}
	var out []netip.Prefix
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := netlink.RouteListFiltered(fam, filter, netlink.RT_FILTER_OIF|netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Dst == nil {
				continue
			}
			a, ok := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			if ok {
				out = append(out, netip.PrefixFrom(a.Unmap(), ones))
			}
		}
	}
	return out, nil
}

func route(p netip.Prefix) (*netlink.Route, error) {
	l, err := netlink.LinkByName(LinkName)
	if err != nil {
		return nil, err
	}
	bits := p.Addr().BitLen()
	return &netlink.Route{LinkIndex: l.Attrs().Index, Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)},
		Scope: netlink.SCOPE_LINK, Protocol: Protocol, Table: unix.RT_TABLE_MAIN}, nil
}

// AddRoute implements Kernel.
func (Netlink) AddRoute(p netip.Prefix) error {
	r, err := route(p)
	if err != nil {
		return err
	}
	return netlink.RouteReplace(r)
}

// DelRoute implements Kernel.
func (Netlink) DelRoute(p netip.Prefix) error {
	r, err := route(p)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}
