package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Liveness holds a node's liveness lease: it reuses the lease of a previous
// run when that is still alive (so the node's records never blink out), keeps
// it alive, and grants a new one when it is lost, telling the owner so it can
// republish the records bound to it.
type Liveness struct {
	store *Store
	node  string
	ip    string
	ttl   time.Duration
	log   *slog.Logger
	// OnLease is called (from Run's goroutine) with every new lease ID,
	// including the first; records under the lease must be (re)written.
	OnLease func(id clientv3.LeaseID, reused bool)

	mu sync.Mutex
	id clientv3.LeaseID
}

// NewLiveness returns a Liveness for node; prev is the lease ID of the
// previous run (0 when none).
func NewLiveness(s *Store, node, underlayIP string, ttl time.Duration, prev clientv3.LeaseID, log *slog.Logger) *Liveness {
	return &Liveness{store: s, node: node, ip: underlayIP, ttl: ttl, log: log, id: prev}
}

// ID returns the current lease (0 while none is held).
func (l *Liveness) ID() clientv3.LeaseID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id
}

func (l *Liveness) setID(id clientv3.LeaseID) {
	l.mu.Lock()
	l.id = id
	l.mu.Unlock()
}

const (
	livenessRetryMin = 200 * time.Millisecond
	livenessRetryMax = 5 * time.Second
)

// Run acquires and keeps the lease until ctx ends. It never returns early:
// store failures are retried with backoff.
func (l *Liveness) Run(ctx context.Context) {
	backoff := livenessRetryMin
	for ctx.Err() == nil {
		id, reused, err := l.acquire(ctx)
		if err != nil {
			l.log.Warn("liveness lease: store unreachable, retrying", "node", l.node, "err", err, "retry", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, livenessRetryMax)
			continue
		}
		backoff = livenessRetryMin
		l.setID(id)
		if err := l.putAlive(ctx, id); err != nil {
			l.log.Warn("liveness key", "node", l.node, "err", err)
		}
		if l.OnLease != nil {
			l.OnLease(id, reused)
		}
		l.keep(ctx, id)
	}
}

// acquire reuses the current lease if it still lives, else grants a new one.
func (l *Liveness) acquire(ctx context.Context) (clientv3.LeaseID, bool, error) {
	if prev := l.ID(); prev != 0 {
		cctx, cancel := OpContext(ctx)
		resp, err := l.store.Client.TimeToLive(cctx, prev)
		cancel()
		if err == nil && resp.TTL > 0 {
			return prev, true, nil
		}
		if err != nil && err != rpctypes.ErrLeaseNotFound {
			return 0, false, err
		}
	}
	cctx, cancel := OpContext(ctx)
	defer cancel()
	g, err := l.store.Client.Grant(cctx, int64(l.ttl/time.Second))
	if err != nil {
		return 0, false, fmt.Errorf("grant liveness lease: %w", err)
	}
	l.log.Info("liveness lease granted", "node", l.node, "lease", fmt.Sprintf("%x", int64(g.ID)), "ttl", l.ttl)
	return g.ID, false, nil
}

func (l *Liveness) putAlive(ctx context.Context, id clientv3.LeaseID) error {
	b, _ := json.Marshal(Alive{Node: l.node, UnderlayIP: l.ip, Since: time.Now().UTC()})
	cctx, cancel := OpContext(ctx)
	defer cancel()
	_, err := l.store.Client.Put(cctx, AliveKey(l.node), string(b), clientv3.WithLease(id))
	return err
}

// keep refreshes the lease until it is lost or ctx ends.
func (l *Liveness) keep(ctx context.Context, id clientv3.LeaseID) {
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := l.store.Client.KeepAlive(kctx, id)
	if err != nil {
		l.log.Warn("keep liveness lease", "err", err)
		sleep(ctx, livenessRetryMin)
		return
	}
	for range ch {
	}
	if ctx.Err() == nil {
		l.log.Warn("liveness lease lost, re-acquiring", "node", l.node, "lease", fmt.Sprintf("%x", int64(id)))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
