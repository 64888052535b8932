package cnm

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
)

// Veth is one endpoint's veth pair in the node netns: Host on the bridge,
// Peer left for dockerd to move into the container and rename.
type Veth struct {
	Host   string
	Peer   string
	Bridge string
	MTU    int
	MAC    string // the peer's MAC; "" = the kernel's choice
}

// Kernel creates and removes endpoint veth pairs in the netns dcnet-cnm
// runs in (the node's).
type Kernel interface {
	// AddVeth creates v, replacing any link left under its names. Safe
	// to call repeatedly.
	AddVeth(v Veth) error
	// DelVeth removes the pair of host end host (both ends go); a pair
	// that is already gone is not an error.
	DelVeth(host string) error
}

// Netlink is the Kernel of a real node.
type Netlink struct{}

var _ Kernel = Netlink{}

// AddVeth implements Kernel.
func (Netlink) AddVeth(v Veth) error {
	br, err := netlink.LinkByName(v.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s not found (overlayd creates it; is dcnet-cnm in the node's netns?): %w", v.Bridge, err)
	}
	for _, name := range []string{v.Host, v.Peer} {
		if err := delLink(name); err != nil {
			return err
		}
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = v.Host, v.MTU
	pair := &netlink.Veth{LinkAttrs: attrs, PeerName: v.Peer}
	if v.MAC != "" {
		mac, err := net.ParseMAC(v.MAC)
		if err != nil {
			return fmt.Errorf("veth %s: MAC %q: %w", v.Peer, v.MAC, err)
		}
		pair.PeerHardwareAddr = mac
	}
	if err := netlink.LinkAdd(pair); err != nil {
		return fmt.Errorf("create veth %s (peer %s): %w", v.Host, v.Peer, err)
	}
	if err := wire(v, br); err != nil {
		_ = delLink(v.Host)
		return err
	}
	return nil
}

// wire sets the MTU of the peer, puts the host end on the bridge with
// hairpin mode and sets it up.
func wire(v Veth, br netlink.Link) error {
	peer, err := netlink.LinkByName(v.Peer)
	if err != nil {
		return fmt.Errorf("look up veth peer %s: %w", v.Peer, err)
	}
	if peer.Attrs().MTU != v.MTU {
		if err := netlink.LinkSetMTU(peer, v.MTU); err != nil {
			return fmt.Errorf("set mtu %d on %s: %w", v.MTU, v.Peer, err)
		}
	}
	host, err := netlink.LinkByName(v.Host)
	if err != nil {
		return fmt.Errorf("look up veth %s: %w", v.Host, err)
	}
	if err := netlink.LinkSetMaster(host, br); err != nil {
		return fmt.Errorf("attach %s to bridge %s: %w", v.Host, v.Bridge, err)
	}
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("set hairpin mode on %s: %w", v.Host, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", v.Host, err)
	}
	return nil
}

// DelVeth implements Kernel.
func (Netlink) DelVeth(host string) error { return delLink(host) }

func delLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("look up %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// FakeKernel records veth pairs in memory, for tests.
type FakeKernel struct {
	mu    sync.Mutex
	veths map[string]Veth
	// FailAdd, when set, makes AddVeth fail with it.
	FailAdd error
	// BeforeDel, when set, is called at the start of every DelVeth (a
	// test sees what overlayd holds at that moment).
	BeforeDel func()
}

var _ Kernel = (*FakeKernel)(nil)

// AddVeth implements Kernel.
func (k *FakeKernel) AddVeth(v Veth) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.FailAdd != nil {
		return k.FailAdd
	}
	if k.veths == nil {
		k.veths = map[string]Veth{}
	}
	k.veths[v.Host] = v
	return nil
}

// DelVeth implements Kernel.
func (k *FakeKernel) DelVeth(host string) error {
	if k.BeforeDel != nil {
		k.BeforeDel()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.veths, host)
	return nil
}

// String lists the pairs, one a line: "veth H peer P master B mtu M mac X".
func (k *FakeKernel) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var lines []string
	for _, v := range k.veths {
		lines = append(lines, fmt.Sprintf("veth %s peer %s master %s mtu %d mac %s\n", v.Host, v.Peer, v.Bridge, v.MTU, v.MAC))
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}
