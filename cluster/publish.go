package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxTxnOps stays under etcd's default --max-txn-ops (128).
const MaxTxnOps = 128

// Publisher makes the keys under one prefix (a node's own records) equal to
// a desired set computed from local state, writing them under the node's
// liveness lease. Local state is the source of truth, so records are never
// lost: a write that fails is retried on the next kick or tick, and a new
// lease rewrites everything.
type Publisher struct {
	store   *Store
	prefix  string
	lease   func() clientv3.LeaseID
	desired func() (map[string][]byte, error)
	log     *slog.Logger

	kick    chan struct{}
	pending atomic.Int64
	syncs   atomic.Int64
	// mu serialises Sync with Exclusive.
	mu sync.Mutex
}

// NewPublisher returns a publisher of prefix; desired returns full keys.
func NewPublisher(s *Store, prefix string, lease func() clientv3.LeaseID, desired func() (map[string][]byte, error), log *slog.Logger) *Publisher {
	return &Publisher{store: s, prefix: prefix, lease: lease, desired: desired, log: log, kick: make(chan struct{}, 1)}
}

// Kick asks for a sync soon; never blocks.
func (p *Publisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Pending is the number of records known to differ from the store after the
// last sync attempt (-1 before the first).
func (p *Publisher) Pending() int { return int(p.pending.Load()) }

// Syncs counts completed syncs.
func (p *Publisher) Syncs() int64 { return p.syncs.Load() }

const publishRetry = time.Second

// Run syncs on every kick and at least every interval until ctx ends; a
// failed sync is retried after publishRetry (or at the next kick).
func (p *Publisher) Run(ctx context.Context, interval time.Duration) {
	p.pending.Store(-1)
	t := time.NewTicker(interval)
	defer t.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	<-retry.C
	for {
		if err := p.Sync(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("publish records: will retry", "prefix", p.prefix, "err", err)
			retry.Reset(publishRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
		case <-retry.C:
		}
	}
}

// Exclusive runs fn while no Sync runs: a Sync that computed its desired
// set before fn changed local state cannot write it after fn, so fn may
// change local state and the store together (overlayd's withdraw deletes
// a record that the next Sync must not write back).
func (p *Publisher) Exclusive(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn()
}

// Sync performs one reconcile of the prefix against the desired set.
func (p *Publisher) Sync(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	want, err := p.desired()
	if err != nil {
		return fmt.Errorf("compute records: %w", err)
	}
	lease := p.lease()
	if lease == 0 && len(want) == 0 {
		p.pending.Store(0)
		return nil
	}
	if lease == 0 {
		p.pending.Store(int64(len(want)))
		return fmt.Errorf("no liveness lease yet (%d records waiting)", len(want))
	}
	cctx, cancel := OpContext(ctx)
	resp, err := p.store.Client.Get(cctx, p.prefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		p.pending.Store(int64(len(want)))
		return fmt.Errorf("read %s: %w", p.prefix, err)
	}
	var ops []clientv3.Op
	have := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		have[k] = true
		w, ok := want[k]
		switch {
		case !ok:
			ops = append(ops, clientv3.OpDelete(k))
		case !bytes.Equal(w, kv.Value) || clientv3.LeaseID(kv.Lease) != lease:
			ops = append(ops, clientv3.OpPut(k, string(w), clientv3.WithLease(lease)))
		}
	}
	for k, w := range want {
		if !have[k] {
			ops = append(ops, clientv3.OpPut(k, string(w), clientv3.WithLease(lease)))
		}
	}
	p.pending.Store(int64(len(ops)))
	for len(ops) > 0 {
		n := min(len(ops), MaxTxnOps)
		cctx, cancel := OpContext(ctx)
		_, err := p.store.Client.Txn(cctx).Then(ops[:n]...).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("write %d records under %s: %w", n, p.prefix, err)
		}
		ops = ops[n:]
		p.pending.Store(int64(len(ops)))
	}
	p.syncs.Add(1)
	return nil
}
