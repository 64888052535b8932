package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/dcnet/dcnet/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// appliedTTL is the lease of the applied key: a dcnet-l4lb that died is
// no longer waited for after at most this long.
const appliedTTL = 10 * time.Second

// applied publishes cluster.L4LBApplied for the node: the store revision
// of the endpoint records its last successful sync programmed, so that a
// node removing a container can wait until every dcnet-l4lb has stopped
// choosing it (see overlayd's withdraw). The key lives under a lease of
// its own, revoked when the daemon stops, so a stopped dcnet-l4lb is not
// waited for. Writes happen off the sync loop: a slow store never delays
// a sync, and only the latest revision is written.
type applied struct {
	store *cluster.Store
	node  string
	log   *slog.Logger
	want  atomic.Int64
	kick  chan struct{}
}

func newApplied(s *cluster.Store, node string, log *slog.Logger) *applied {
	return &applied{store: s, node: node, log: log, kick: make(chan struct{}, 1)}
}

// set records that the kernel now reflects the records up to rev.
func (a *applied) set(rev int64) {
	if rev <= a.want.Load() {
		return
	}
	a.want.Store(rev)
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Run writes the key until ctx ends, then revokes its lease.
func (a *applied) Run(ctx context.Context) {
	var lease clientv3.LeaseID
	var lost <-chan *clientv3.LeaseKeepAliveResponse
	var written int64
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	defer func() {
		if lease != 0 {
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			a.store.Client.Revoke(rctx, lease)
			cancel()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		case <-retry.C:
		case _, ok := <-lost:
			if ok {
				continue
			}
			lease, lost = 0, nil // expired or revoked: grant a new one
			written = 0
		}
		rev := a.want.Load()
		if rev == written && lease != 0 {
			continue
		}
		if lease == 0 {
			var err error
			if lease, lost, err = a.grant(ctx); err != nil {
				a.log.Warn("applied revision: no lease, retrying", "err", err)
				retry.Reset(storeTimeout)
				continue
			}
		}
		if rev == 0 {
			continue
		}
		if err := a.put(ctx, lease, rev); err != nil {
			a.log.Warn("applied revision: write, retrying", "revision", rev, "err", err)
			lease, lost = 0, nil
			retry.Reset(time.Second)
			continue
		}
		written = rev
	}
}

func (a *applied) grant(ctx context.Context) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	g, err := a.store.Client.Grant(cctx, int64(appliedTTL/time.Second))
	if err != nil {
		return 0, nil, fmt.Errorf("grant lease: %w", err)
	}
	ch, err := a.store.Client.KeepAlive(ctx, g.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("keep lease: %w", err)
	}
	return g.ID, ch, nil
}

func (a *applied) put(ctx context.Context, lease clientv3.LeaseID, rev int64) error {
	b, _ := json.Marshal(cluster.L4LBApplied{Node: a.node, Revision: rev, Updated: time.Now().UTC()})
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	_, err := a.store.Client.Put(cctx, cluster.L4LBAppliedKey(a.node), string(b), clientv3.WithLease(lease))
	return err
}
