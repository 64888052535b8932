// Package veth is the kernel side of the dcnet plugin: it wires a container
// netns to the node bridge with a veth pair (container end named by the
// runtime, host end on the bridge with hairpin mode), sets the container's
// addresses and default routes, checks that wiring, and removes it. It is the
// only code of the plugins that uses netlink or enters a netns.
//
// Call everything from the host (node) netns: the host end is created and
// looked up in the netns of the calling thread.
package veth

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrExists says the container already has an interface of that name.
var ErrExists = errors.New("interface already exists")

// Spec is one container interface as it should be.
type Spec struct {
	NetNS    string // container netns path
	IfName   string // container end
	HostName string // host end
	Bridge   string // the host end's master
	MTU      int    // both ends; 0 in Verify: not checked
	Hairpin  bool   // hairpin mode of the host end
	// Addrs are the container's addresses with their prefix length.
	Addrs []*net.IPNet
	// Gateways get one default route each, via the container interface.
	Gateways []net.IP
}

// Link describes one created interface.
type Link struct {
	Name  string
	MAC   string
	Index int
}

// Netlink applies Specs to the kernel.
type Netlink struct{}

// Probe checks, before anything is allocated, that netns can be entered and
// has no interface named ifName (ErrExists otherwise).
func (Netlink) Probe(netns, ifName string) error {
	return ns.WithNetNSPath(netns, func(ns.NetNS) error {
		if _, err := netlink.LinkByName(ifName); err == nil {
			return fmt.Errorf("%s in netns %s: %w", ifName, netns, ErrExists)
		}
		return nil
	})
}

// Setup creates the veth pair, configures the container end and attaches
// the host end to the bridge. On failure it removes what it created and
// nothing else (an existing interface of the same name is left alone).
func (Netlink) Setup(s Spec) (host, cont Link, err error) {
	hostNS, err := ns.GetCurrentNS()
	if err != nil {
		return host, cont, fmt.Errorf("open host netns: %w", err)
	}
	defer hostNS.Close()
	contNS, err := ns.GetNS(s.NetNS)
	if err != nil {
		return host, cont, fmt.Errorf("open container netns: %w", err)
	}
	defer contNS.Close()

	err = contNS.Do(func(ns.NetNS) error {
		if _, err := netlink.LinkByName(s.IfName); err == nil {
			return fmt.Errorf("%s in netns %s: %w", s.IfName, s.NetNS, ErrExists)
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU = s.IfName, s.MTU
		pair := &netlink.Veth{LinkAttrs: attrs, PeerName: s.HostName, PeerNamespace: netlink.NsFd(int(hostNS.Fd()))}
		if err := netlink.LinkAdd(pair); err != nil {
			return fmt.Errorf("create veth %s (host end %s): %w", s.IfName, s.HostName, err)
		}
		if cont, err = configure(s); err != nil {
			_ = netlink.LinkDel(pair) // takes the host end with it
			return err
		}
		return nil
	})
	if err != nil {
		return Link{}, Link{}, err
	}
	if host, err = attach(s); err != nil {
		_ = deleteVeth(s.HostName)
		return Link{}, Link{}, err
	}
	return host, cont, nil
}

// configure sets the container end up with its addresses and default
// routes; runs in the container netns.
func configure(s Spec) (Link, error) {
	link, err := netlink.LinkByName(s.IfName)
	if err != nil {
		return Link{}, fmt.Errorf("look up %s: %w", s.IfName, err)
	}
	for _, a := range s.Addrs {
		addr := &netlink.Addr{IPNet: a}
		if a.IP.To4() == nil {
			addr.Flags = unix.IFA_F_NODAD // usable at once, no DAD wait
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return Link{}, fmt.Errorf("add address %s to %s: %w", a, s.IfName, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return Link{}, fmt.Errorf("set %s up: %w", s.IfName, err)
	}
	for _, gw := range s.Gateways {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: defaultDst(gw), Gw: gw}
		if err := netlink.RouteReplace(r); err != nil {
			return Link{}, fmt.Errorf("add default route via %s dev %s: %w", gw, s.IfName, err)
		}
	}
	return linkOf(link), nil
}

// attach puts the host end on the bridge with the wanted MTU and hairpin
// mode and sets it up; runs in the host netns.
func attach(s Spec) (Link, error) {
	br, err := netlink.LinkByName(s.Bridge)
	if err != nil {
		return Link{}, fmt.Errorf("bridge %s not found (overlayd creates it): %w", s.Bridge, err)
	}
	link, err := netlink.LinkByName(s.HostName)
	if err != nil {
		return Link{}, fmt.Errorf("look up host end %s: %w", s.HostName, err)
	}
	if link.Attrs().MTU != s.MTU {
		if err := netlink.LinkSetMTU(link, s.MTU); err != nil {
			return Link{}, fmt.Errorf("set mtu %d on %s: %w", s.MTU, s.HostName, err)
		}
	}
	if err := netlink.LinkSetMaster(link, br); err != nil {
		return Link{}, fmt.Errorf("attach %s to bridge %s: %w", s.HostName, s.Bridge, err)
	}
	if s.Hairpin {
		if err := netlink.LinkSetHairpin(link, true); err != nil {
			return Link{}, fmt.Errorf("set hairpin mode on %s: %w", s.HostName, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return Link{}, fmt.Errorf("set %s up: %w", s.HostName, err)
	}
	// The bridge forwards to the port only once the kernel reports it up;
	// returning earlier lets the first packets to a new container vanish.
	if link, err = waitOperUp(s.HostName); err != nil {
		return Link{}, err
	}
	return linkOf(link), nil
}

// operUpWaits are the pauses between checks of a new host end's operational
// state: almost always none is needed; the bound is about 1.9 s (the
// reference bridge plugin waits up to 2.55 s).
var operUpWaits = []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second}

// waitOperUp waits, bounded by operUpWaits, until link name reports
// operational state up, and returns it.
func waitOperUp(name string) (netlink.Link, error) {
	var state netlink.LinkOperState
	for _, d := range operUpWaits {
		time.Sleep(d)
		link, err := netlink.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("look up host end %s: %w", name, err)
		}
		if state = link.Attrs().OperState; state == netlink.OperUp {
			return link, nil
		}
	}
	return nil, fmt.Errorf("host end %s is still %s, not up, after being set up (is the container end up?)", name, state)
}

func linkOf(l netlink.Link) Link {
	a := l.Attrs()
	return Link{Name: a.Name, MAC: a.HardwareAddr.String(), Index: a.Index}
}

// Teardown removes the container interface ifName (when netns is set and
// still exists) and the host end hostName (when set and still there). Safe to
// call repeatedly; missing netns and interfaces are not errors.
func (Netlink) Teardown(netns, ifName, hostName string) error {
	if netns != "" && ifName != "" {
		err := ns.WithNetNSPath(netns, func(ns.NetNS) error {
			link, err := netlink.LinkByName(ifName)
			if err != nil {
				if isNotFound(err) {
					return nil
				}
				return err
			}
			if err := netlink.LinkDel(link); err != nil && !isNotFound(err) {
				return err
			}
			return nil
		})
		var notExist ns.NSPathNotExistErr
		var notNS ns.NSPathNotNSErr
		if err != nil && !errors.As(err, &notExist) && !errors.As(err, &notNS) {
			return fmt.Errorf("delete %s in netns %s: %w", ifName, netns, err)
		}
	}
	if hostName != "" {
		if err := deleteVeth(hostName); err != nil {
			return err
		}
	}
	return nil
}

// isNotFound reports a missing link.
func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// deleteVeth deletes the host-side veth name if it is there.
func deleteVeth(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("look up %s: %w", name, err)
	}
	if _, ok := link.(*netlink.Veth); !ok {
		return fmt.Errorf("delete %s: it is a %s, not a veth; not touching it", name, link.Type())
	}
	if err := netlink.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// defaultDst is the default destination of gw's family.
func defaultDst(gw net.IP) *net.IPNet {
	if gw.To4() != nil {
		return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
}
