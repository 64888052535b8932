package netsim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

const pingTimeout = 10 * time.Second

// ping checks that from reaches addr, retrying for a bounded time.
func ping(t *testing.T, from Namespace, addr string) {
	t.Helper()
	ctx := context.Background()
	err := WaitFor(ctx, pingTimeout, 200*time.Millisecond, func() error {
		_, err := from.Run(ctx, "ping", "-c1", "-W1", addr)
		return err
	})
	if err != nil {
		t.Fatalf("ping %s from %s: %v", addr, from.NSName, err)
	}
}

// ownNetns lists the namespaces of prefix that exist now.
func ownNetns(t *testing.T, prefix string) []string {
	t.Helper()
	names, err := listNetns()
	if err != nil {
		t.Fatal(err)
	}
	var own []string
	for _, n := range names {
		if strings.HasPrefix(n, StaleMatch(prefix)) {
			own = append(own, n)
		}
	}
	return own
}

func TestPrivilegedFabric(t *testing.T) {
	Privileged(t, "ping")
	const prefix = "netsimfab"
	f := NewFabric(t, prefix)

	n1, err := f.AddNode("node1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := f.AddNode("node2")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.AddOutside()
	if err != nil {
		t.Fatal(err)
	}
	c1, err := n1.AddContainer("c1")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := n2.AddContainer("c1")
	if err != nil {
		t.Fatal(err)
	}
	if n1.UnderlayIP.String() != "198.18.0.1" || n2.UnderlayIP.String() != "198.18.0.2" || out.UnderlayIP != OutsideIP {
		t.Fatalf("underlay IPs %v %v %v, want 198.18.0.1 198.18.0.2 %v", n1.UnderlayIP, n2.UnderlayIP, out.UnderlayIP, OutsideIP)
	}
	if c2.NSName != "dcnet-netsimfab-node2-c1" || c2.Path != "/run/netns/dcnet-netsimfab-node2-c1" {
		t.Errorf("container netns %s at %s", c2.NSName, c2.Path)
	}

	ping(t, n1.Namespace, n2.UnderlayIP.String())
	ping(t, n2.Namespace, n1.UnderlayIP.String())
	ping(t, n1.Namespace, out.UnderlayIP.String())
	ping(t, out.Namespace, n2.UnderlayIP.String())

	checkNodeKernel(t, n1)
	for _, c := range []*Container{c1, c2} {
		links, err := c.Run(context.Background(), "ip", "-o", "link", "show")
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(links), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "lo:") || !strings.Contains(lines[0], "UP") {
			t.Errorf("container %s links = %q, want only lo, up", c.NSName, links)
		}
	}

	if err := c1.Delete(); err != nil {
		t.Fatal(err)
	}
	if c1.Exists() || len(n1.Containers()) != 0 {
		t.Errorf("container %s still there after Delete", c1.NSName)
	}
	if err := c1.Delete(); err != nil {
		t.Errorf("second Delete: %v", err)
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if left := ownNetns(t, prefix); len(left) != 0 {
		t.Errorf("Close left namespaces behind: %v", left)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.AddNode("node3"); err == nil {
		t.Errorf("AddNode after Close: want error")
	}
}

// checkNodeKernel looks at a node through Do and netlink: eth0 carries the
// underlay address, and the only IPv4 route is the connected /15.
func checkNodeKernel(t *testing.T, n *Node) {
	t.Helper()
	err := n.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(UnderlayDev)
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || addrs[0].IPNet.String() != n.UnderlayCIDR.String() {
			return fmt.Errorf("eth0 addresses %v, want %v", addrs, n.UnderlayCIDR)
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if len(routes) != 1 || routes[0].Dst.String() != UnderlayPrefix.String() || routes[0].Gw != nil {
			return fmt.Errorf("routes %v, want only the connected %v", routes, UnderlayPrefix)
		}
		return nil
	})
	if err != nil {
		t.Errorf("node %s: %v", n.Name, err)
	}
}

func TestPrivilegedFabricPrefixLockAndStale(t *testing.T) {
	Privileged(t)
	const prefix = "netsimlock"
	// A crashed run left a node namespace behind.
	stale := NodeNSName(prefix, "node1")
	if err := addNetns(stale); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { delNetns(stale) })

	f := NewFabric(t, prefix)
	if left := ownNetns(t, prefix); len(left) != 1 || left[0] != f.NSName {
		t.Errorf("namespaces after NewFabric = %v, want only %s", left, f.NSName)
	}
	if _, err := NewFabricNoT(prefix); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second fabric with prefix %s: err = %v, want in use", prefix, err)
	}
	if _, err := f.AddNode("node1"); err != nil {
		t.Errorf("AddNode over the removed stale netns: %v", err)
	}
	if _, err := f.AddNode("node1"); err == nil {
		t.Errorf("AddNode of an existing node: want error")
	}
	if _, err := f.AddNode("outside"); err == nil {
		t.Errorf("AddNode(outside): want error, the name is reserved")
	}
}

func TestPrivilegedFabricFailedNodeLeavesNothing(t *testing.T) {
	Privileged(t)
	const prefix = "netsimfail"
	f := NewFabric(t, prefix)
	a, err := f.AddNode("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddContainer("b"); err != nil {
		t.Fatal(err)
	}
	// Node "a-b" would take the container's netns name "dcnet-netsimfail-a-b".
	if _, err := f.AddNode("a-b"); err == nil {
		t.Fatal("AddNode(a-b) over container a/b: want error")
	}
	links, err := f.Run(context.Background(), "ip", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(links, "vn2") {
		t.Errorf("failed AddNode left its veth in the fabric:\n%s", links)
	}
	n, err := f.AddNode("c")
	if err != nil {
		t.Fatal(err)
	}
	if n.Index != 2 {
		t.Errorf("node after a failed AddNode has index %d, want 2", n.Index)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if left := ownNetns(t, prefix); len(left) != 0 {
		t.Errorf("Close left namespaces behind: %v", left)
	}
}
