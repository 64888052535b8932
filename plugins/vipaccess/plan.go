package vipaccess

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// Link is the veth pair as it should be.
type Link struct {
	NetNS  string // container netns path
	IfName string // container end
	Host   string // node end
	// Addr4 is the container end's /32; Addr6 its /128 (invalid without
	// IPv6).
	Addr4, Addr6 netip.Addr
	// Routes go via Gateway4 or Gateway6 (by family), permanent neighbours
	// of the node end's MAC.
	Routes []Route
}

// Route is one container route through the link.
type Route struct {
	Dst    netip.Prefix
	Metric int
}

// HostName is the node end's name for a container: l4lbapi.VIPAccessPrefix
// and 8 hex digits of a SHA-256 of the container ID and interface, stable
// so that DEL finds it without state.
func HostName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifName))
	return l4lbapi.VIPAccessPrefix + hex.EncodeToString(sum[:4])
}

// Plan returns the link of a container whose pool address is addr4.
func Plan(c *Config, netns, containerID string, addr4 netip.Addr) Link {
	l := Link{NetNS: netns, IfName: c.Interface, Host: HostName(containerID, c.Interface), Addr4: addr4}
	v6 := c.ipv6()
	if v6 {
		b := v6Prefix.Addr().As16()
		a4 := addr4.As4()
		copy(b[12:], a4[:])
		l.Addr6 = netip.AddrFrom16(b)
	}
	for _, d := range c.dns {
		if d.Is4() || v6 {
			l.Routes = append(l.Routes, Route{Dst: netip.PrefixFrom(d, d.BitLen())})
		}
	}
	l.Routes = append(l.Routes, Route{Dst: vipRanges4})
	if v6 {
		l.Routes = append(l.Routes, Route{Dst: vipRanges6})
	}
	if c.defaultRoute() {
		l.Routes = append(l.Routes, Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Metric: DefaultRouteMetric})
		if v6 {
			l.Routes = append(l.Routes, Route{Dst: netip.MustParsePrefix("::/0"), Metric: DefaultRouteMetric})
		}
	}
	return l
}
