package datapath

import (
	"net/netip"
	"slices"
	"testing"
)

// benchPeers returns a cluster of n peers plus the node itself.
func benchPeers(n int) []Peer {
	ns := make([]int, n+1)
	for i := range ns {
		ns[i] = i + 1
	}
	return testPeers(ns...)
}

// BenchmarkPlanDiff1000 plans 1,000 peers and diffs against the kernel's
// state: unchanged (the steady state of every reconcile), from empty (node
// start), and with one peer changed.
func BenchmarkPlanDiff1000(b *testing.B) {
	v := testVTEP(1)
	peers := benchPeers(1000)
	steady := PlanPeers(v, "node1", peers)
	changed := slices.Clone(peers)
	changed[500].Underlay = netip.MustParseAddr("198.19.0.1")
	for _, bc := range []struct {
		name    string
		have    PeerState
		peers   []Peer
		changes int
	}{
		{"unchanged", steady, peers, 0},
		{"from-empty", PeerState{}, peers, 5000},
		{"one-changed", steady, changed, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c := DiffPeers(bc.have, PlanPeers(v, "node1", bc.peers))
				if c.Len() != bc.changes {
					b.Fatalf("%d changes, want %d", c.Len(), bc.changes)
				}
			}
		})
	}
}
