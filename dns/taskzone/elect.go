package taskzone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultElectionTTL is the lease of a master's election key, in seconds:
// a publisher that dies is replaced within it.
const DefaultElectionTTL = 10

// Elector campaigns for the publisher role and tells the Publisher when
// this master holds it (Leader). Only the publisher writes, and every
// write is fenced on its election key (Fence), so a master that lost the
// role while a publish was in flight cannot overwrite its successor.
type Elector struct {
	// Client is the etcd client.
	Client *clientv3.Client
	// ID is this master's value in the election, shown to the others.
	ID string
	// TTL is the lease of the election key in seconds (0:
	// DefaultElectionTTL).
	TTL int
	// Log gets the role changes; nil discards them.
	Log *slog.Logger
	// OnElected, if set, runs (in its own goroutine) each time this master
	// becomes the publisher, so it publishes without waiting for the next
	// poll.
	OnElected func()

	mu      sync.Mutex
	fence   Fence
	leading bool
}

// Leader returns the fence of this master's term while it is the
// publisher.
func (e *Elector) Leader() (Fence, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fence, e.leading
}

func (e *Elector) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

func (e *Elector) set(f Fence, leading bool) {
	e.mu.Lock()
	e.fence, e.leading = f, leading
	e.mu.Unlock()
}

// electRetry bounds the wait between two failed terms.
const (
	electRetryMin = 500 * time.Millisecond
	electRetryMax = 10 * time.Second
)

// Run campaigns until ctx ends, one term after the other: a term ends when
// the lease is lost (etcd unreachable for longer than TTL, or the key
// deleted by hand). On the way out it resigns, so a successor takes over
// at once instead of after TTL.
func (e *Elector) Run(ctx context.Context) {
	wait := electRetryMin
	for ctx.Err() == nil {
		led, err := e.term(ctx)
		if ctx.Err() != nil {
			return
		}
		if led {
			wait = electRetryMin
		}
		e.log().Warn("task names: publisher election interrupted, campaigning again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, electRetryMax)
	}
}

// term runs one term: grant a lease, campaign, lead until the lease or
// the key is lost. led says whether this master was the publisher in it.
// Every etcd call is bound to ctx (or a short timeout on the way out), so
// an unreachable etcd never holds up a shutdown.
func (e *Elector) term(ctx context.Context) (led bool, err error) {
	ttl := e.TTL
	if ttl <= 0 {
		ttl = DefaultElectionTTL
	}
	c := e.Client
	gctx, cancel := context.WithTimeout(ctx, opTimeout)
	lease, err := c.Grant(gctx, int64(ttl))
	cancel()
	if err != nil {
		return false, fmt.Errorf("grant election lease: %w", err)
	}
	// tctx ends the term: ctx done, lease lost (the keepalive channel
	// closes when the lease expires or cannot be renewed for its TTL).
	tctx, tcancel := context.WithCancel(ctx)
	defer tcancel()
	defer func() {
		// Revoking deletes the key at once, so a successor need not wait
		// for the TTL; bounded, etcd may be gone.
		rctx, rcancel := context.WithTimeout(context.Background(), revokeTimeout)
		_, _ = c.Revoke(rctx, lease.ID)
		rcancel()
	}()
	ka, err := c.KeepAlive(tctx, lease.ID)
	if err != nil {
		return false, fmt.Errorf("keep election lease alive: %w", err)
	}
	lost := make(chan struct{})
	go func() {
		defer close(lost)
		for range ka {
		}
		tcancel()
	}()
	key, rev, seen, err := campaign(tctx, c, lease.ID, e.ID, e.log())
	if err != nil {
		if ctx.Err() == nil && tctx.Err() != nil {
			return false, errors.New("election lease lost while waiting")
		}
		return false, fmt.Errorf("campaign: %w", err)
	}
	f := Fence{Key: key, Rev: rev}
	e.set(f, true)
	defer e.set(Fence{}, false)
	e.log().Info("task names: this master publishes them", "id", e.ID, "key", f.Key)
	if e.OnElected != nil {
		go e.OnElected()
	}
	// The key can also go while the lease lives (deleted by hand): then
	// another master may already lead, so the term ends here too.
	// From the revision campaign last read, not from the key's creation:
	// a key that waited long may be older than the compacted history.
	wch := c.Watch(clientv3.WithRequireLeader(tctx), key, clientv3.WithRev(seen+1))
	for {
		select {
		case <-ctx.Done():
			e.set(Fence{}, false)
			return true, ctx.Err()
		case <-lost:
			return true, errors.New("election lease lost: another master may publish now")
		case wr, ok := <-wch:
			if !ok {
				return true, errors.New("watch of the election key closed")
			}
			if err := wr.Err(); err != nil {
				// etcd without a leader: this master cannot tell that it
				// still leads.
				return true, fmt.Errorf("watch of the election key: %w", err)
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					return true, fmt.Errorf("election key %s deleted", key)
				}
			}
		}
	}
}

// revokeTimeout bounds revoking the election lease at the end of a term.
const revokeTimeout = 2 * time.Second

// campaign is etcd's election recipe (as concurrency.Election.Campaign,
// whose clean-up on cancel waits on etcd without a deadline): put this
// master's key, cluster.PublisherPrefix + lease ID in hex, on its lease, then wait
// until every key created before it is gone. It returns the key and its
// create revision, and the revision of etcd it last read (at which the key
// still existed and led).
func campaign(ctx context.Context, c *clientv3.Client, lease clientv3.LeaseID, id string, log *slog.Logger) (key string, rev, seen int64, err error) {
	key = fmt.Sprintf("%s%x", cluster.PublisherPrefix, lease)
	resp, err := c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, id, clientv3.WithLease(lease))).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return "", 0, 0, err
	}
	rev = resp.Header.Revision
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return "", 0, 0, fmt.Errorf("election key %s vanished", key)
		}
		rev = kvs[0].CreateRevision
	}
	for announced := false; ; {
		// The newest key older than ours: when it goes, look again.
		gr, err := c.Get(ctx, cluster.PublisherPrefix, append([]clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMaxCreateRev(rev - 1)},
			clientv3.WithLastCreate()...)...)
		if err != nil {
			return "", 0, 0, err
		}
		if len(gr.Kvs) == 0 {
			return key, rev, gr.Header.Revision, nil
		}
		if !announced {
			if first, err := c.Get(ctx, cluster.PublisherPrefix, append([]clientv3.OpOption{clientv3.WithPrefix()}, clientv3.WithFirstCreate()...)...); err == nil && len(first.Kvs) > 0 {
				log.Info("task names: another master publishes them, standing by", "publisher", string(first.Kvs[0].Value))
			}
			announced = true
		}
		if err := waitDelete(ctx, c, string(gr.Kvs[0].Key), gr.Header.Revision); err != nil {
			return "", 0, 0, err
		}
	}
}

// waitDelete returns once key is deleted after revision rev.
func waitDelete(ctx context.Context, c *clientv3.Client, key string, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range c.Watch(wctx, key, clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch of an older election key ended")
}
