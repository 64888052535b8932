package collect

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/dcnet/dcnet/ctl/doctor"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// Link implements doctor.Kernel with netlink.
func (k *Kernel) Link(name string) (*doctor.Link, error) {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read link %s: %w", name, err)
	}
	a := l.Attrs()
	out := &doctor.Link{Name: a.Name, Kind: l.Type(), Up: a.Flags&net.FlagUp != 0, MTU: a.MTU, MAC: a.HardwareAddr.String()}
	if vx, ok := l.(*netlink.Vxlan); ok {
		out.VNI, out.Port = vx.VxlanId, vx.Port
		if ip, ok := netip.AddrFromSlice(vx.SrcAddr); ok {
			out.Local = ip.Unmap()
		}
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("read addresses of %s: %w", name, err)
	}
	for _, ad := range addrs {
		if ip, ok := netip.AddrFromSlice(ad.IP); ok && ad.IPNet != nil {
			bits, _ := ad.Mask.Size()
			out.Addrs = append(out.Addrs, netip.PrefixFrom(ip.Unmap(), bits))
		}
	}
	if l.Type() == "bridge" {
		links, err := netlink.LinkList()
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		for _, p := range links {
			if p.Attrs().MasterIndex == a.Index {
				out.Ports++
			}
		}
	}
	return out, nil
}

// PeerState implements doctor.Kernel with datapath.ReadPeerState, so the
// doctor sees exactly what overlayd takes for its own entries.
func (k *Kernel) PeerState(dev string) (datapath.PeerState, error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return datapath.PeerState{}, fmt.Errorf("read link %s: %w", dev, err)
	}
	return datapath.ReadPeerState(l)
}
