package overlayd

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// kickPeers asks the reconcile loop for a peers-only pass soon (a node
// record changed).
func (d *Daemon) kickPeers() {
	select {
	case d.peersKick <- struct{}{}:
	default:
	}
}

// reconcileLoop keeps the kernel at the plan. A full pass (at start, on a
// timer and on kickReconcile) reads everything back from the kernel and
// repairs any difference, hand damage included. A node record change takes
// the fast path: the new peer plan is diffed against the plan the kernel
// was last brought to and only that difference is written, without reading
// the kernel or checking bridges and iptables; the next full pass verifies.
func (d *Daemon) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.ReconcileInterval.Duration)
	defer t.Stop()
	full := true
	for {
		start := time.Now()
		var n int
		var err error
		if full {
			n, err = d.reconcileFull()
		} else {
			n, err = d.reconcilePeers()
		}
		d.metrics.reconciled(n, err, time.Since(start))
		switch {
		case err != nil:
			d.log.Error("apply datapath", "err", err)
		case n > 0 && full:
			d.log.Info("datapath repaired", "changes", n)
		case n > 0:
			d.log.Info("peers updated", "changes", n, "took", time.Since(start).Round(time.Microsecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			full = true
		case <-d.kick:
			full = true
		case <-d.peersKick:
			full = false
		}
	}
}

// reconcileFull applies the whole plan, reading the kernel back.
func (d *Daemon) reconcileFull() (int, error) {
	w, used := d.planLeases()
	n, err := datapath.Apply(d.kernel, w)
	// Bridges come first in a pass: after it, a failure elsewhere (an
	// iptables error, say) is logged and retried but does not hold back
	// allocation from subnets that are on their bridges.
	d.markReady(used)
	d.appliedOK = false
	if err == nil && w.VTEP != nil && !w.PeersUnknown {
		d.applied = datapath.PlanPeers(w.VTEP, w.Self, w.Peers)
		d.appliedOK = true
	}
	return n, err
}

// reconcilePeers applies only the change of the peer plan since the last
// pass; it falls back to a full pass when there is no trusted baseline or
// a write fails.
func (d *Daemon) reconcilePeers() (int, error) {
	w := d.plan()
	if !d.appliedOK || w.VTEP == nil || w.PeersUnknown {
		return d.reconcileFull()
	}
	want := datapath.PlanPeers(w.VTEP, w.Self, w.Peers)
	n, err := d.kernel.ApplyPeerChanges(*w.VTEP, datapath.DiffPeers(d.applied, want))
	if err != nil {
		d.log.Warn("fast peer update failed, reconciling fully", "err", err)
		return d.reconcileFull()
	}
	d.applied = want
	return n, nil
}

// decodedNode is a node record decoded once per distinct value.
type decodedNode struct {
	raw  []byte
	node cluster.Node
	ok   bool
}

// storeNodes decodes the nodes cache, reusing earlier decodes of values
// that did not change (a reconcile with 1,000 nodes must not decode 1,000
// JSON documents for one change).
func (d *Daemon) storeNodes() []cluster.Node {
	kvs := d.nodes.List("")
	d.decodeMu.Lock()
	defer d.decodeMu.Unlock()
	out := make([]cluster.Node, 0, len(kvs))
	seen := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		seen[kv.Key] = true
		dn, hit := d.decoded[kv.Key]
		if !hit || !bytes.Equal(dn.raw, kv.Value) {
			dn = decodedNode{raw: kv.Value}
			dn.ok = json.Unmarshal(kv.Value, &dn.node) == nil && dn.node.Name != ""
			d.decoded[kv.Key] = dn
		}
		if dn.ok {
			out = append(out, dn.node)
		}
	}
	for k := range d.decoded {
		if !seen[k] {
			delete(d.decoded, k)
		}
	}
	return out
}
