package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// Components, as checks name them.
const (
	Overlayd = "overlayd"
	L4LB     = "dcnet-l4lb"
	DNS      = "dcnet-dns"
)

// Link is a network device as the kernel reports it (`ip -d addr show`).
type Link struct {
	Name string
	// Kind is the link type: "vxlan", "bridge", "veth", ...
	Kind  string
	Up    bool
	MTU   int
	MAC   string
	Addrs []netip.Prefix
	// VNI, Port and Local are a vxlan device's id, UDP port and local
	// underlay address.
	VNI   int
	Port  int
	Local netip.Addr
	// Ports counts the links enslaved to a bridge.
	Ports int
}

// statusCommand shows overlayd's status.
const statusCommand = "dcnetctl status"

// CheckStatus reports what overlayd says is wrong with itself: a failing
// store, endpoint records not yet published, a peer list not yet read,
// and its configuration warnings.
func CheckStatus(st api.Status) Check {
	var fs []Finding
	if !st.StoreOK {
		fs = append(fs, Finding{Kind: Wrong, Object: "overlayd's store " + st.Store, Want: "ok", Have: st.StoreError,
			Detail: "the last store operation failed: records and leases wait", Command: statusCommand})
	}
	switch {
	case st.PendingPublish > 0:
		fs = append(fs, Finding{Kind: Wrong, Object: "endpoint records", Want: "0 pending",
			Have: fmt.Sprintf("%d pending", st.PendingPublish), Detail: "endpoint records not yet written to the store", Command: statusCommand})
	case st.PendingPublish < 0:
		fs = append(fs, Finding{Kind: Wrong, Object: "endpoint records", Want: "published",
			Have: "no publish completed yet", Detail: "overlayd has no liveness lease or cannot reach the store", Command: statusCommand})
	}
	if st.PeersUnknown {
		fs = append(fs, Finding{Kind: Wrong, Object: "peer list", Want: "read from the store", Have: "unknown",
			Detail: "overlayd has not read the cluster's nodes yet; the kernel's peer entries are left as they are", Command: statusCommand})
	}
	for _, w := range st.Warnings {
		fs = append(fs, Finding{Kind: Wrong, Object: "configuration", Have: w, Command: statusCommand})
	}
	return newCheck(Overlayd, "status", 1, fs)
}

// CheckVTEP compares the VTEP device overlayd describes in its status
// with the kernel's link (nil when missing).
func CheckVTEP(st api.Status, l *Link) Check {
	v := st.VTEP
	const name = "vtep device"
	show := "ip -d link show " + v.Device
	if l == nil {
		return newCheck(Overlayd, name, 1, []Finding{{Kind: Missing, Object: v.Device,
			Want: fmt.Sprintf("vxlan id %d dstport %d local %s", v.VNI, v.Port, st.UnderlayIP), Command: show}})
	}
	var fs []Finding
	attr := func(what, want, have string) {
		if want != have {
			fs = append(fs, Finding{Kind: Wrong, Object: v.Device + " " + what, Want: want, Have: have, Command: show})
		}
	}
	attr("type", "vxlan", l.Kind)
	if l.Kind == "vxlan" {
		attr("vxlan id", strconv.Itoa(v.VNI), strconv.Itoa(l.VNI))
		attr("dstport", strconv.Itoa(v.Port), strconv.Itoa(l.Port))
		if st.UnderlayIP != "" {
			attr("local", st.UnderlayIP, addrString(l.Local))
		}
	}
	if v.MAC != "" {
		attr("address", v.MAC, l.MAC)
	}
	if v.MTU > 0 {
		attr("mtu", strconv.Itoa(v.MTU), strconv.Itoa(l.MTU))
	}
	attr("state", "UP", upString(l.Up))
	for _, ip := range []string{v.IP, v.IP6} {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		if !slices.ContainsFunc(l.Addrs, func(p netip.Prefix) bool { return p.Addr() == a }) {
			fs = append(fs, Finding{Kind: Missing, Object: "address " + ip + " on " + v.Device,
				Have: prefixesString(l.Addrs), Command: "ip addr show dev " + v.Device})
		}
	}
	return newCheck(Overlayd, name, 1, fs)
}

// CheckBridges compares every overlay's node bridge as overlayd plans it
// (the gateway addresses of its node subnets, its stable MAC, up, the
// overlay MTU once it has ports, no stale addresses inside the overlay
// ranges) with the kernel's links (links[name] nil when missing).
func CheckBridges(nets []api.Network, links map[string]*Link) Check {
	var fs []Finding
	for _, n := range nets {
		l := links[n.Bridge]
		show := "ip -d addr show dev " + n.Bridge
		if l == nil {
			fs = append(fs, Finding{Kind: Missing, Object: "bridge " + n.Bridge, Detail: "node bridge of overlay " + n.Name, Command: show})
			continue
		}
		attr := func(what, want, have string) {
			if want != have {
				fs = append(fs, Finding{Kind: Wrong, Object: n.Bridge + " " + what, Want: want, Have: have, Command: show})
			}
		}
		attr("type", "bridge", l.Kind)
		attr("state", "UP", upString(l.Up))
		if l.Ports > 0 && n.MTU > 0 {
			attr("mtu", strconv.Itoa(n.MTU), strconv.Itoa(l.MTU))
		}
		want, complete := gatewayAddrs(n)
		for _, p := range want {
			if !slices.Contains(l.Addrs, p) {
				fs = append(fs, Finding{Kind: Missing, Object: "address " + p.String() + " on " + n.Bridge, Have: prefixesString(l.Addrs), Command: show})
			}
		}
		for _, p := range l.Addrs {
			if !slices.Contains(want, p) && inRanges(p.Addr(), n.Subnet, n.Subnet6) {
				fs = append(fs, Finding{Kind: Extra, Object: "address " + p.String() + " on " + n.Bridge,
					Detail: "inside overlay " + n.Name + " but not its gateway: a stale lease", Command: show})
			}
		}
		if complete {
			attr("address", datapath.BridgeMAC(n.Bridge, want).String(), l.MAC)
		}
	}
	return newCheck(Overlayd, "bridges", len(nets), fs)
}

// gatewayAddrs returns the bridge addresses overlayd plans for n, and
// whether every configured family has its subnet (only then is the
// planned MAC known).
func gatewayAddrs(n api.Network) ([]netip.Prefix, bool) {
	var out []netip.Prefix
	complete := true
	for _, pair := range [][3]string{{n.Subnet, n.NodeSubnet, n.Gateway}, {n.Subnet6, n.NodeSubnet6, n.Gateway6}} {
		if pair[0] == "" {
			continue
		}
		sub, err1 := netip.ParsePrefix(pair[1])
		gw, err2 := netip.ParseAddr(pair[2])
		if err1 != nil || err2 != nil {
			complete = false
			continue
		}
		out = append(out, netip.PrefixFrom(gw, sub.Bits()))
	}
	return out, complete
}

func inRanges(a netip.Addr, ranges ...string) bool {
	for _, r := range ranges {
		if p, err := netip.ParsePrefix(r); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

func upString(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

func prefixesString(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "no addresses"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}
