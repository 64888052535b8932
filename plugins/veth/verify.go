package veth

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// dumpRetries bounds retries of a netlink dump the kernel interrupted.
const dumpRetries = 5

// Verify checks that the container interface exists, is up, has exactly
// s.Addrs as global addresses, a default route via each gateway and (when
// s.MTU is set) the MTU, and that the host end exists (on s.Bridge when
// set). The error names the
// first difference.
func (Netlink) Verify(s Spec) error {
	err := ns.WithNetNSPath(s.NetNS, func(ns.NetNS) error { return verifyContainer(s) })
	if err != nil {
		return err
	}
	if s.HostName == "" {
		return nil
	}
	host, err := netlink.LinkByName(s.HostName)
	if err != nil {
		return fmt.Errorf("host end %s of %s: %w", s.HostName, s.IfName, err)
	}
	if s.Bridge != "" {
		br, err := netlink.LinkByName(s.Bridge)
		if err != nil {
			return fmt.Errorf("bridge %s: %w", s.Bridge, err)
		}
		if host.Attrs().MasterIndex != br.Attrs().Index {
			return fmt.Errorf("host end %s of %s is not on bridge %s", s.HostName, s.IfName, s.Bridge)
		}
	}
	return nil
}

// verifyContainer runs in the container netns.
func verifyContainer(s Spec) error {
	link, err := netlink.LinkByName(s.IfName)
	if err != nil {
		return fmt.Errorf("interface %s in netns %s: %w", s.IfName, s.NetNS, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("interface %s in netns %s is down", s.IfName, s.NetNS)
	}
	if s.MTU != 0 && link.Attrs().MTU != s.MTU {
		return fmt.Errorf("interface %s has mtu %d, want %d", s.IfName, link.Attrs().MTU, s.MTU)
	}
	if err := exactAddrs(link, s); err != nil {
		return err
	}
	return defaultRoutes(link, s)
}

// exactAddrs checks that the global addresses of link are exactly s.Addrs.
func exactAddrs(link netlink.Link, s Spec) error {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", s.IfName, err)
	}
	for _, w := range s.Addrs {
		if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IPNet.String() == w.String() }) {
			return fmt.Errorf("interface %s lacks address %s", s.IfName, w)
		}
	}
	var extra []string
	for _, a := range addrs {
		if !a.IP.IsGlobalUnicast() {
			continue
		}
		if !slices.ContainsFunc(s.Addrs, func(w *net.IPNet) bool { return w.String() == a.IPNet.String() }) {
			extra = append(extra, a.IPNet.String())
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("interface %s has addresses [%s] that the attachment does not", s.IfName, strings.Join(extra, ", "))
	}
	return nil
}

// defaultRoutes checks that there is a default route via each gateway
// through the interface.
func defaultRoutes(link netlink.Link, s Spec) error {
	for _, gw := range s.Gateways {
		family := netlink.FAMILY_V6
		if gw.To4() != nil {
			family = netlink.FAMILY_V4
		}
		rs, err := retryDump(func() ([]netlink.Route, error) {
			return netlink.RouteListFiltered(family, &netlink.Route{Dst: defaultDst(gw)}, netlink.RT_FILTER_DST)
		})
		if err != nil {
			return fmt.Errorf("list default routes: %w", err)
		}
		if !slices.ContainsFunc(rs, func(r netlink.Route) bool {
			return r.Gw.Equal(gw) && r.LinkIndex == link.Attrs().Index
		}) {
			return fmt.Errorf("no default route via %s dev %s", gw, s.IfName)
		}
	}
	return nil
}

// retryDump repeats a netlink dump that the kernel interrupted because the
// table changed meanwhile.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var out []T
	var err error
	for range dumpRetries {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}
