// Package nstest is the shared helper of the plugins' privileged tests
// (each gated by netsim.Privileged): it makes fresh network namespaces
// (node and containers) that are removed when the test ends, builds a node
// bridge in such a namespace, and pings from a namespace.
package nstest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// pingTimeout bounds one echo request.
const pingTimeout = 2 * time.Second

// NewNS makes a named netns (under /run/netns, so "ip netns exec
// Name(n)" works) that is unmounted and removed when the test ends.
func NewNS(t *testing.T) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("new netns: %v", err)
	}
	t.Cleanup(func() { Remove(t, n) })
	return n
}

// Remove closes and unmounts n; safe to call twice.
func Remove(t *testing.T, n ns.NetNS) {
	t.Helper()
	path := n.Path()
	_ = n.Close()
	if _, err := os.Stat(path); err != nil {
		return
	}
	if err := testutils.UnmountNS(n); err != nil {
		t.Errorf("remove netns %s: %v", path, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("netns %s left behind", path)
	}
}

// Name is the netns name for "ip netns exec".
func Name(n ns.NetNS) string { return filepath.Base(n.Path()) }

// Bridge creates bridge name in netns n with the given gateway addresses
// (CIDR) and sets it and lo up.
func Bridge(t *testing.T, n ns.NetNS, name string, gateways ...string) {
	t.Helper()
	err := n.Do(func(ns.NetNS) error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		br := &netlink.Bridge{LinkAttrs: attrs}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("add bridge %s: %w", name, err)
		}
		for _, gw := range gateways {
			addr, err := netlink.ParseAddr(gw)
			if err != nil {
				return err
			}
			addr.Flags = unix.IFA_F_NODAD
			if err := netlink.AddrAdd(br, addr); err != nil {
				return fmt.Errorf("add %s to %s: %w", gw, name, err)
			}
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	})
	if err != nil {
		t.Fatalf("bridge %s: %v", name, err)
	}
}

// Ping sends one ICMP echo request from netns n to dst and waits for the
// reply (no ping binary needed).
func Ping(n ns.NetNS, dst string) error {
	ip := net.ParseIP(dst)
	if ip == nil {
		return fmt.Errorf("ping %q: not an address", dst)
	}
	network, proto, echo, reply := "ip4:icmp", 1, icmp.Type(ipv4.ICMPTypeEcho), icmp.Type(ipv4.ICMPTypeEchoReply)
	if ip.To4() == nil {
		network, proto, echo, reply = "ip6:ipv6-icmp", 58, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var conn *icmp.PacketConn
	err := n.Do(func(ns.NetNS) error { // the socket belongs to the netns it is made in
		var err error
		conn, err = icmp.ListenPacket(network, "")
		return err
	})
	if err != nil {
		return fmt.Errorf("ping %s: open socket: %w", dst, err)
	}
	defer conn.Close()
	id := os.Getpid() & 0xffff
	msg := icmp.Message{Type: echo, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("dcnet")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := conn.WriteTo(b, &net.IPAddr{IP: ip}); err != nil {
		return fmt.Errorf("ping %s: send: %w", dst, err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(pingTimeout)); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		k, peer, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("ping %s: no reply: %w", dst, err)
		}
		m, err := icmp.ParseMessage(proto, buf[:k])
		if err != nil || m.Type != reply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && peer.(*net.IPAddr).IP.Equal(ip) {
			return nil
		}
	}
}
