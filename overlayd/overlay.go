package overlayd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/overlayd/alloc"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/config"
	"github.com/dcnet/dcnet/overlayd/datapath"
	"github.com/vishvananda/netlink"
)

// vxlanOverhead is what VxLAN over an IPv4 underlay adds to each packet.
const vxlanOverhead = 50

// defaultUnderlayMTU is assumed when the underlay link cannot be found.
const defaultUnderlayMTU = 1500

// Meta keys of the node's VTEP addresses.
const (
	metaVTEP  = "vtep"
	metaVTEP6 = "vtep6"
)

func (d *Daemon) metaAddr(key string) netip.Addr {
	b, ok, err := d.ipam.GetMeta(key)
	if err != nil || !ok {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(string(b))
	return a
}

// wantsIPv6 reports whether any overlay has an IPv6 range (then the VTEP
// gets an IPv6 address too).
func (d *Daemon) wantsIPv6() bool {
	for _, o := range d.cfg.Overlays {
		if o.Subnet6 != "" {
			return true
		}
	}
	return false
}

// leaseVTEP obtains the node's VTEP addresses (the remembered ones first).
func (d *Daemon) leaseVTEP(ctx context.Context) error {
	type fam struct {
		rng  string
		meta string
		cur  *netip.Addr
	}
	fams := []fam{{d.cfg.VTEP.Subnet, metaVTEP, &d.vtep4}}
	if d.wantsIPv6() {
		fams = append(fams, fam{d.cfg.VTEP.Subnet6, metaVTEP6, &d.vtep6})
	}
	for _, f := range fams {
		d.mu.RLock()
		have := *f.cur
		d.mu.RUnlock()
		a, err := alloc.LeaseVTEP(ctx, d.store, d.cfg.NodeName, netip.MustParsePrefix(f.rng), have)
		if err != nil {
			return err
		}
		if a != have {
			if err := d.ipam.PutMeta(f.meta, []byte(a.String())); err != nil {
				return fmt.Errorf("remember vtep %s: %w", a, err)
			}
			d.log.Info("vtep address leased", "vtep", a)
			d.mu.Lock()
			*f.cur = a
			d.mu.Unlock()
		}
	}
	return nil
}

// vtep returns the wanted VTEP device, nil until an address is leased.
// Callers hold d.mu (read).
func (d *Daemon) vtepLocked() *datapath.VTEP {
	if !d.vtep4.IsValid() {
		return nil
	}
	v := &datapath.VTEP{Name: d.cfg.VTEP.Name, VNI: d.cfg.VTEP.VNI, Port: d.cfg.VTEP.Port,
		MAC: datapath.VTEPMAC(d.vtep4), IP: netip.PrefixFrom(d.vtep4, netip.MustParsePrefix(d.cfg.VTEP.Subnet).Bits()),
		MTU: d.underlayMTU - vxlanOverhead, NoTrack: d.cfg.VTEP.NoTrackOn()}
	if ip, err := netip.ParseAddr(d.cfg.UnderlayIP); err == nil {
		v.Local = ip
	}
	if d.vtep6.IsValid() {
		v.IP6 = netip.PrefixFrom(d.vtep6, netip.MustParsePrefix(d.cfg.VTEP.Subnet6).Bits())
	}
	return v
}

// peers turns the other nodes' records into datapath peers. Records that
// lack an underlay or VTEP address are skipped (a node still starting).
func (d *Daemon) peers(self netip.Addr) []datapath.Peer {
	var out []datapath.Peer
	for _, n := range d.storeNodes() {
		if n.Name == d.cfg.NodeName {
			continue
		}
		if p, ok := PeerFromNode(n); ok && p.VTEPIP != self {
			out = append(out, p)
		}
	}
	return out
}

// PeerFromNode is what a node's record asks every other node to program:
// false when the record lacks an underlay or VTEP address (a node still
// starting). Subnets are ordered by overlay name.
func PeerFromNode(n cluster.Node) (datapath.Peer, bool) {
	under, err1 := netip.ParseAddr(n.UnderlayIP)
	vtep, err2 := netip.ParseAddr(n.VTEPIP)
	if err1 != nil || err2 != nil {
		return datapath.Peer{}, false
	}
	p := datapath.Peer{Name: n.Name, Underlay: under, VTEPIP: vtep, MAC: datapath.VTEPMAC(vtep)}
	if mac, err := net.ParseMAC(n.VTEPMAC); err == nil {
		p.MAC = mac
	}
	if v6, err := netip.ParseAddr(n.VTEPIP6); err == nil {
		p.VTEPIP6 = v6
	}
	names := make([]string, 0, len(n.Subnets))
	for o := range n.Subnets {
		names = append(names, o)
	}
	sort.Strings(names)
	for _, o := range names {
		for _, s := range n.Subnets[o] {
			if sp, err := netip.ParsePrefix(s); err == nil {
				p.Subnets = append(p.Subnets, sp)
			}
		}
	}
	return p, true
}

// underlayLinkMTU returns the MTU of the link holding ip.
func underlayLinkMTU(ip string) int {
	a := net.ParseIP(ip)
	if a == nil {
		return defaultUnderlayMTU
	}
	links, err := netlink.LinkList()
	if err != nil {
		return defaultUnderlayMTU
	}
	for _, l := range links {
		addrs, _ := netlink.AddrList(l, netlink.FAMILY_ALL)
		for _, ad := range addrs {
			if ad.IP.Equal(a) {
				return l.Attrs().MTU
			}
		}
	}
	return defaultUnderlayMTU
}

// mtuWarnings explains overlays whose MTU does not fit in the underlay.
func (d *Daemon) mtuWarnings() []string {
	var out []string
	limit := d.underlayMTU - vxlanOverhead
	for _, o := range d.cfg.Overlays {
		if int(o.MTU) > limit {
			out = append(out, fmt.Sprintf("overlay %s: mtu %d does not fit the underlay (mtu %d minus %d bytes of VxLAN = %d): large packets between nodes will be dropped; set mtu to %d or less",
				o.Name, o.MTU, d.underlayMTU, vxlanOverhead, limit, limit))
		}
	}
	return out
}

// resolveAutoMTU turns "auto" MTUs into the underlay MTU minus the VxLAN
// overhead.
func (d *Daemon) resolveAutoMTU() {
	for i, o := range d.cfg.Overlays {
		if o.MTU != config.AutoMTU {
			continue
		}
		mtu := config.MTU(max(d.underlayMTU-vxlanOverhead, minAutoMTU))
		d.cfg.Overlays[i].MTU = mtu
		d.mu.Lock()
		d.networks[o.Name].cfg.MTU = mtu
		d.mu.Unlock()
		d.log.Info("container mtu from the underlay", "overlay", o.Name, "mtu", mtu, "underlay_mtu", d.underlayMTU)
	}
}

// minAutoMTU is the smallest MTU "auto" yields (IPv6 needs 1280).
const minAutoMTU = 1280

// nodeInfos is the API view of the cluster's nodes.
func (d *Daemon) nodeInfos() []api.Node {
	var out []api.Node
	for _, n := range cluster.WithLiveness(d.storeNodes(), d.alive.List("")) {
		out = append(out, api.Node{Name: n.Name, UnderlayIP: n.UnderlayIP, VTEPIP: n.VTEPIP, VTEPIP6: n.VTEPIP6,
			VTEPMAC: n.VTEPMAC, Subnets: n.Subnets, Alive: n.Alive, Updated: n.Updated})
	}
	return out
}

// reclaimGone removes nodes whose liveness lease has been gone, and whose
// record has not been refreshed, for longer than the grace period.
func (d *Daemon) reclaimGone(ctx context.Context) {
	if !d.alive.Synced() || !d.nodes.Synced() {
		return
	}
	grace := d.cfg.NodeGracePeriod.Duration
	for _, n := range d.nodeInfos() {
		if n.Alive || n.Name == d.cfg.NodeName || time.Since(n.Updated) < grace {
			continue
		}
		removed, err := alloc.RemoveNode(ctx, d.store, n.Name)
		if err != nil {
			d.log.Warn("reclaim departed node", "node", n.Name, "err", err)
			continue
		}
		d.log.Info("reclaimed departed node", "node", n.Name, "gone_since", n.Updated, "keys", removed)
	}
}

func peerInfo(p datapath.Peer) api.Peer {
	out := api.Peer{Name: p.Name, UnderlayIP: p.Underlay.String(), VTEPIP: p.VTEPIP.String(), VTEPMAC: p.MAC.String()}
	if p.VTEPIP6.IsValid() {
		out.VTEPIP6 = p.VTEPIP6.String()
	}
	for _, s := range p.Subnets {
		out.Subnets = append(out.Subnets, s.String())
	}
	return out
}
