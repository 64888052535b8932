package netsim

import (
	"context"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
)

// snapshotIn takes a snapshot of a node's namespace instead of the host's:
// commands exec'd from a thread inside ns.Do inherit its namespace.
func snapshotIn(t *testing.T, n *Node) *HostSnapshot {
	t.Helper()
	var s *HostSnapshot
	if err := n.Do(func(ns.NetNS) error {
		s = SnapshotHost(context.Background())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPrivilegedSnapshotSeesChanges proves the guard on a node namespace,
// never on the host: a snapshot is stable when nothing changes and reports
// each kind of change that the host guard exists to catch.
func TestPrivilegedSnapshotSeesChanges(t *testing.T) {
	Privileged(t, "nft", "iptables", "sysctl")
	f := NewFabric(t, "netsimguard")
	n, err := f.AddNode("node1")
	if err != nil {
		t.Fatal(err)
	}
	before := snapshotIn(t, n)
	if d := before.Diff(snapshotIn(t, n)); d != "" {
		t.Fatalf("two snapshots of an unchanged namespace differ:\n%s", d)
	}
	ctx := context.Background()
	for _, argv := range [][]string{
		{"ip", "addr", "add", "198.18.200.1/32", "dev", "lo"},
		{"ip", "route", "add", "198.18.201.0/24", "dev", "eth0"},
		{"ip", "link", "add", "br-guard", "type", "bridge"},
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"nft", "add", "table", "ip", "netsimguard"},
		{"iptables", "-A", "INPUT", "-s", "198.18.0.9", "-j", "DROP"},
	} {
		if _, err := n.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
	d := before.Diff(snapshotIn(t, n))
	t.Logf("the diff a guarded test would report:\n%s", d)
	for _, want := range []string{"198.18.200.1/32", "198.18.201.0/24", "br-guard", "net.ipv4.ip_forward = 1", "table ip netsimguard", "198.18.0.9"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
}
