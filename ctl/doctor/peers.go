package doctor

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// WantPeers is what overlayd programs on its VTEP for peers (its
// /v1/peers), planned exactly as overlayd plans it (datapath.PlanPeers),
// and the peer each object is for.
func WantPeers(st api.Status, peers []api.Peer) (datapath.PeerState, map[string]string) {
	v := &datapath.VTEP{Name: st.VTEP.Device}
	if a, err := netip.ParseAddr(st.VTEP.IP); err == nil {
		v.IP = netip.PrefixFrom(a, a.BitLen())
	}
	if a, err := netip.ParseAddr(st.VTEP.IP6); err == nil {
		v.IP6 = netip.PrefixFrom(a, a.BitLen())
	}
	v.Local, _ = netip.ParseAddr(st.UnderlayIP)
	owner := map[string]string{}
	var ps []datapath.Peer
	for _, p := range peers {
		dp := datapath.Peer{Name: p.Name}
		dp.Underlay, _ = netip.ParseAddr(p.UnderlayIP)
		dp.VTEPIP, _ = netip.ParseAddr(p.VTEPIP)
		dp.VTEPIP6, _ = netip.ParseAddr(p.VTEPIP6)
		dp.MAC, _ = net.ParseMAC(p.VTEPMAC)
		for _, s := range p.Subnets {
			if sp, err := netip.ParsePrefix(s); err == nil {
				dp.Subnets = append(dp.Subnets, sp)
				owner["route "+sp.Masked().String()] = p.Name
			}
		}
		owner["neigh "+dp.VTEPIP.String()] = p.Name
		owner["neigh "+dp.VTEPIP6.String()] = p.Name
		owner["fdb "+dp.MAC.String()] = p.Name
		ps = append(ps, dp)
	}
	return datapath.PlanPeers(v, st.Node, ps), owner
}

// CheckPeers compares the VTEP's wanted per-peer state (WantPeers) with
// the kernel's (have, as datapath.ReadPeerState reads it: permanent
// neighbours, permanent FDB entries, routes through the device) and
// returns one check each for the neighbours, the FDB and the routes.
func CheckPeers(st api.Status, peers []api.Peer, have datapath.PeerState) []Check {
	want, owner := WantPeers(st, peers)
	dev := st.VTEP.Device
	detail := func(key string) string {
		if p := owner[key]; p != "" {
			return "peer " + p
		}
		return "no peer of overlayd's"
	}
	return []Check{
		checkNeighs(dev, want.Neighs, have.Neighs, detail),
		checkFDB(dev, want.FDB, have.FDB, detail),
		checkRoutes(dev, want.Routes, have.Routes, detail),
	}
}

func neighLine(n datapath.Neigh) string {
	return fmt.Sprintf("%s lladdr %s PERMANENT", n.IP, n.MAC)
}

func checkNeighs(dev string, want, have []datapath.Neigh, detail func(string) string) Check {
	cmd := "ip neigh show dev " + dev
	byIP := map[netip.Addr]datapath.Neigh{}
	for _, n := range have {
		byIP[n.IP] = n
	}
	var fs []Finding
	for _, w := range want {
		h, ok := byIP[w.IP]
		delete(byIP, w.IP)
		switch {
		case !ok:
			fs = append(fs, Finding{Kind: Missing, Object: neighLine(w), Detail: detail("neigh " + w.IP.String()), Command: cmd})
		case h.MAC.String() != w.MAC.String():
			fs = append(fs, Finding{Kind: Wrong, Object: w.IP.String(), Want: neighLine(w), Have: neighLine(h), Detail: detail("neigh " + w.IP.String()), Command: cmd})
		}
	}
	for _, h := range have {
		if _, left := byIP[h.IP]; left {
			fs = append(fs, Finding{Kind: Extra, Object: neighLine(h), Detail: detail("neigh " + h.IP.String()), Command: cmd})
		}
	}
	return newCheck(Overlayd, "vtep neighbours", len(want), fs)
}

func fdbLine(e datapath.FDBEntry) string {
	return fmt.Sprintf("%s dst %s self permanent", e.MAC, e.Dst)
}

func checkFDB(dev string, want, have []datapath.FDBEntry, detail func(string) string) Check {
	cmd := "bridge fdb show dev " + dev
	byMAC := map[string][]datapath.FDBEntry{}
	for _, e := range have {
		byMAC[e.MAC.String()] = append(byMAC[e.MAC.String()], e)
	}
	var fs []Finding
	for _, w := range want {
		mac := w.MAC.String()
		hs := byMAC[mac]
		delete(byMAC, mac)
		i := slices.IndexFunc(hs, func(h datapath.FDBEntry) bool { return h.Dst == w.Dst })
		switch {
		case len(hs) == 0:
			fs = append(fs, Finding{Kind: Missing, Object: fdbLine(w), Detail: detail("fdb " + mac), Command: cmd})
		case i < 0:
			fs = append(fs, Finding{Kind: Wrong, Object: mac, Want: fdbLine(w), Have: fdbLines(hs), Detail: detail("fdb " + mac), Command: cmd})
		default:
			for j, h := range hs {
				if j != i {
					fs = append(fs, Finding{Kind: Extra, Object: fdbLine(h), Detail: "a second destination for " + detail("fdb "+mac), Command: cmd})
				}
			}
		}
	}
	for _, h := range have {
		if _, left := byMAC[h.MAC.String()]; left {
			fs = append(fs, Finding{Kind: Extra, Object: fdbLine(h), Detail: detail("fdb " + h.MAC.String()), Command: cmd})
		}
	}
	return newCheck(Overlayd, "vtep fdb", len(want), fs)
}

func fdbLines(es []datapath.FDBEntry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = fdbLine(e)
	}
	return strings.Join(s, "; ")
}

// routeLine renders r as `ip route show dev` does (the device left out).
func routeLine(r datapath.Route) string {
	var b strings.Builder
	b.WriteString(r.Dst.String())
	if r.Via.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Via)
	}
	if r.OnLink {
		b.WriteString(" onlink")
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	return b.String()
}

func routeCommand(dev string, r datapath.Route) string {
	if r.Dst.Addr().Is6() {
		return "ip -6 route show dev " + dev
	}
	return "ip route show dev " + dev
}

func checkRoutes(dev string, want, have []datapath.Route, detail func(string) string) Check {
	byDst := map[netip.Prefix][]datapath.Route{}
	for _, r := range have {
		byDst[r.Dst] = append(byDst[r.Dst], r)
	}
	var fs []Finding
	for _, w := range want {
		hs := byDst[w.Dst]
		delete(byDst, w.Dst)
		d, cmd := detail("route "+w.Dst.String()), routeCommand(dev, w)
		i := slices.Index(hs, w)
		switch {
		case len(hs) == 0:
			fs = append(fs, Finding{Kind: Missing, Object: routeLine(w), Detail: d, Command: cmd})
		case i < 0:
			lines := make([]string, len(hs))
			for j, h := range hs {
				lines[j] = routeLine(h)
			}
			fs = append(fs, Finding{Kind: Wrong, Object: w.Dst.String(), Want: routeLine(w), Have: strings.Join(lines, "; "), Detail: d, Command: cmd})
		default:
			for j, h := range hs {
				if j != i {
					fs = append(fs, Finding{Kind: Extra, Object: routeLine(h), Detail: "a second route for " + d, Command: cmd})
				}
			}
		}
	}
	for _, h := range have {
		if _, left := byDst[h.Dst]; left {
			fs = append(fs, Finding{Kind: Extra, Object: routeLine(h), Detail: detail("route " + h.Dst.String()), Command: routeCommand(dev, h)})
		}
	}
	return newCheck(Overlayd, "vtep routes", len(want), fs)
}
