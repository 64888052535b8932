// Package result builds the CNI results of the dcnet plugins from overlayd's
// attachments, writes them in the spec version the config asks for (0.1.0
// "ip4"/"ip6" objects through 1.1.0 "interfaces"/"ips"/"routes"), and compares
// a runtime's prevResult with an attachment for CHECK.
package result

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/dcnet/dcnet/overlayd/api"
)

// IPs converts an attachment's addresses. iface, when not nil, is the index
// in the result's Interfaces of the interface that carries them.
func IPs(a api.Attachment, iface *int) ([]*current.IPConfig, error) {
	if len(a.IPs) == 0 {
		return nil, fmt.Errorf("attachment %s has no addresses", a.AttachmentID)
	}
	out := make([]*current.IPConfig, 0, len(a.IPs))
	for _, c := range a.IPs {
		ip, ipnet, err := net.ParseCIDR(c.Address)
		if err != nil {
			return nil, fmt.Errorf("attachment %s: address %q from overlayd is not a CIDR", a.AttachmentID, c.Address)
		}
		ipc := &current.IPConfig{Address: net.IPNet{IP: normalize(ip), Mask: ipnet.Mask}}
		if c.Gateway != "" {
			gw := net.ParseIP(c.Gateway)
			if gw == nil || (gw.To4() == nil) != (ip.To4() == nil) {
				return nil, fmt.Errorf("attachment %s: gateway %q of %s from overlayd is not an address of the same family",
					a.AttachmentID, c.Gateway, c.Address)
			}
			ipc.Gateway = normalize(gw)
		}
		if iface != nil {
			ipc.Interface = current.Int(*iface)
		}
		out = append(out, ipc)
	}
	return out, nil
}

// normalize returns IPv4 addresses in their 4-byte form, as netlink does.
func normalize(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// DefaultRoutes returns one default route per address family of ips, via
// that family's first gateway (families without a gateway get none).
func DefaultRoutes(ips []*current.IPConfig) []*types.Route {
	var routes []*types.Route
	var have4, have6 bool
	for _, c := range ips {
		if c.Gateway == nil {
			continue
		}
		is4 := c.Address.IP.To4() != nil
		switch {
		case is4 && !have4:
			have4 = true
			routes = append(routes, &types.Route{Dst: net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, GW: c.Gateway})
		case !is4 && !have6:
			have6 = true
			routes = append(routes, &types.Route{Dst: net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}, GW: c.Gateway})
		}
	}
	return routes
}

// RoutesFor keeps the routes whose destination family has an address in
// ips, so one config can list "0.0.0.0/0" and "::/0" for overlays of either
// family.
func RoutesFor(routes []*types.Route, ips []*current.IPConfig) []*types.Route {
	var out []*types.Route
	for _, r := range routes {
		is4 := r.Dst.IP.To4() != nil
		if slices.ContainsFunc(ips, func(c *current.IPConfig) bool { return (c.Address.IP.To4() != nil) == is4 }) {
			out = append(out, r.Copy())
		}
	}
	return out
}

// Write writes r to w in the given spec version.
func Write(w io.Writer, r *current.Result, version string) error {
	if r.CNIVersion == "" {
		r.CNIVersion = current.ImplementedSpecVersion
	}
	v, err := r.GetAsVersion(version)
	if err != nil {
		return fmt.Errorf("convert result to CNI %s: %w", version, err)
	}
	return v.PrintTo(w)
}

// Match reports how prev's addresses differ from want's: an address missing
// on either side, another prefix length, or another gateway (a gateway absent
// from prev is not compared). Nil when they agree.
func Match(prev *current.Result, want []*current.IPConfig) error {
	var problems []string
	for _, w := range want {
		i := slices.IndexFunc(prev.IPs, func(p *current.IPConfig) bool { return p.Address.IP.Equal(w.Address.IP) })
		if i < 0 {
			problems = append(problems, fmt.Sprintf("lacks %s", w.Address.String()))
			continue
		}
		p := prev.IPs[i]
		if p.Address.String() != w.Address.String() {
			problems = append(problems, fmt.Sprintf("has %s instead of %s", p.Address.String(), w.Address.String()))
		}
		if p.Gateway != nil && w.Gateway != nil && !p.Gateway.Equal(w.Gateway) {
			problems = append(problems, fmt.Sprintf("has gateway %s instead of %s for %s", p.Gateway, w.Gateway, w.Address.String()))
		}
	}
	for _, p := range prev.IPs {
		if !slices.ContainsFunc(want, func(w *current.IPConfig) bool { return w.Address.IP.Equal(p.Address.IP) }) {
			problems = append(problems, fmt.Sprintf("has %s, which overlayd did not allocate", p.Address.String()))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("prevResult disagrees with overlayd's attachment: %s", strings.Join(problems, "; "))
	}
	return nil
}
