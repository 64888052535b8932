package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
)

// dualConfig is one dual-stack overlay, reconciled every second so that
// hand damage heals quickly in tests.
const dualConfig = `{"overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24,"subnet6":"fd01:b::/64","prefix6":80}],"reconcileInterval":"1s"}`

// attached is a container with its overlay addresses.
type attached struct {
	*netsim.Container
	ip4, ip6 string
}

func attach(t *testing.T, nd *node, name string) attached {
	t.Helper()
	return nd.cniAdd(nd.container(name), "dcos")
}

// waitPeers waits until every node programs all the others.
func waitPeers(t *testing.T, nodes []*node, timeout time.Duration) {
	t.Helper()
	for _, nd := range nodes {
		err := netsim.WaitFor(context.Background(), timeout, 20*time.Millisecond, func() error {
			ps, err := nd.client.Peers(context.Background())
			if err != nil || len(ps) != len(nodes)-1 {
				return fmt.Errorf("%s has %d peers (%v)", nd.Name, len(ps), err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// agents starts an etcd member and n agents running overlayd against it.
func agents(t *testing.T, prefix string, n int, cfg string) (*netsim.Fabric, []*node, []*clustersim.EtcdMember, string) {
	t.Helper()
	netsim.Privileged(t, "ping", "iptables", "etcd", "etcdctl")
	f := netsim.NewFabric(t, prefix)
	members, endpoints := startEtcd(t, f, 1)
	var nodes []*node
	for i := 1; i <= n; i++ {
		nodes = append(nodes, startNode(t, f, fmt.Sprintf("a%d", i), cfg, "--etcd-endpoints", endpoints))
	}
	waitPeers(t, nodes, 10*time.Second)
	return f, nodes, members, endpoints
}

// TestPrivilegedOverlayCrossNode: containers on three nodes exchange ICMP,
// TCP and UDP over IPv4 and IPv6 across vtep1024, and a 10 MB TCP transfer
// with full-size packets gets through (no MTU black hole).
func TestPrivilegedOverlayCrossNode(t *testing.T) {
	_, nodes, _, _ := agents(t, "eovl", 3, dualConfig)
	var ctrs []attached
	for _, nd := range nodes {
		ctrs = append(ctrs, attach(t, nd, "c"))
	}
	for i, a := range ctrs {
		b := ctrs[(i+1)%len(ctrs)]
		for _, dst := range []string{b.ip4, b.ip6} {
			if err := ping(a.Namespace, dst); err != nil {
				t.Errorf("%s -> %s: %v", nodes[i].Name, nodes[(i+1)%len(nodes)].Name, err)
			}
		}
	}
	for _, dst := range []string{ctrs[1].ip4, ctrs[1].ip6} {
		tcpTransfer(t, ctrs[0], ctrs[1], dst, 10<<20)
		udpEcho(t, ctrs[0], ctrs[1], dst)
	}
	// The wire shows VxLAN: the peer's neighbour, FDB entry and route.
	out, _ := nodes[0].Run(context.Background(), "bridge", "fdb", "show", "dev", "vtep1024")
	if !strings.Contains(out, "dst "+nodes[1].UnderlayIP.String()) || strings.Contains(out, "dst "+nodes[0].UnderlayIP.String()+" ") {
		t.Errorf("fdb of %s:\n%s", nodes[0].Name, out)
	}
}

// tcpTransfer sends size random bytes from a to b over TCP and checks them.
func tcpTransfer(t *testing.T, a, b attached, dst string, size int) {
	t.Helper()
	var ln net.Listener
	if err := b.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(dst, "7001"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, size)
	rand.Read(payload)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		data, _ := io.ReadAll(c)
		got <- data
	}()
	var conn net.Conn
	if err := a.Do(func(ns.NetNS) error {
		var err error
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(dst, "7001"), 3*time.Second)
		return err
	}); err != nil {
		t.Fatalf("tcp to %s: %v", dst, err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(payload); err != nil {
		t.Fatalf("tcp write to %s: %v", dst, err)
	}
	conn.Close()
	select {
	case data := <-got:
		if !bytes.Equal(data, payload) {
			t.Fatalf("tcp to %s: received %d of %d bytes (or corrupted)", dst, len(data), size)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("tcp to %s: transfer stalled (MTU black hole?)", dst)
	}
}

// udpEcho sends a datagram from a to b and waits for the echo.
func udpEcho(t *testing.T, a, b attached, dst string) {
	t.Helper()
	var srv net.PacketConn
	if err := b.Do(func(ns.NetNS) error {
		var err error
		srv, err = net.ListenPacket("udp", net.JoinHostPort(dst, "7002"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 1500)
		srv.SetDeadline(time.Now().Add(10 * time.Second))
		n, from, err := srv.ReadFrom(buf)
		if err == nil {
			srv.WriteTo(buf[:n], from)
		}
	}()
	var conn net.Conn
	if err := a.Do(func(ns.NetNS) error {
		var err error
		conn, err = net.Dial("udp", net.JoinHostPort(dst, "7002"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	msg := []byte("dcnet udp " + dst)
	conn.Write(msg)
	buf := make([]byte, 100)
	n, err := conn.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("udp echo via %s: %q %v", dst, buf[:n], err)
	}
}
