package overlayd

import (
	"net"
	"net/netip"
	"net/url"

	"github.com/vishvananda/netlink"
)

// detectUnderlayIP guesses the node's underlay address: the source of the
// route to the first non-loopback etcd endpoint, else of the default route,
// else the first global IPv4 address of an up link. "" when nothing fits.
func detectUnderlayIP(endpoints []string) string {
	for _, ep := range endpoints {
		u, err := url.Parse(ep)
		if err != nil {
			continue
		}
		ip := net.ParseIP(u.Hostname())
		if ip == nil || ip.IsLoopback() {
			continue
		}
		if src := routeSrc(ip); src != "" {
			return src
		}
	}
	if src := routeSrc(net.ParseIP("198.18.255.255")); src != "" {
		return src
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if l.Attrs().Flags&net.FlagUp == 0 || l.Type() == "bridge" {
			continue
		}
		addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsGlobalUnicast() {
				return ip.Unmap().String()
			}
		}
	}
	return ""
}

func routeSrc(dst net.IP) string {
	rs, err := netlink.RouteGet(dst)
	if err != nil || len(rs) == 0 || rs[0].Src == nil {
		return ""
	}
	return rs[0].Src.String()
}
