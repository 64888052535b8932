package taskzone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// ElectionPrefix is where the Mesos-DNS masters elect the one that
// publishes the task names: each campaigning master holds one key under it
// (etcd's election recipe: the prefix plus its lease ID in hex, valued
// with its ID), the oldest is the publisher.
const ElectionPrefix = "/dcnet/v1/dns/publisher/"

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
	// Log gets the role changes.
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
		e.Log.Warn("task names: publisher election interrupted, campaigning again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, electRetryMax)
	}
}

// term runs one session: campaign, lead until the session ends. led says
// whether this master was the publisher in it.
func (e *Elector) term(ctx context.Context) (led bool, err error) {
	ttl := e.TTL
	if ttl <= 0 {
		ttl = DefaultElectionTTL
	}
	gctx, cancel := context.WithTimeout(ctx, opTimeout)
	lease, err := e.Client.Grant(gctx, int64(ttl))
	cancel()
	if err != nil {
		return false, fmt.Errorf("grant election lease: %w", err)
	}
	s, err := concurrency.NewSession(e.Client, concurrency.WithLease(lease.ID), concurrency.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("election session: %w", err)
	}
	defer s.Close() // revokes the lease: the key goes at once
	// Campaign waits for the older keys to go; it must also stop when this
	// session's own lease is lost meanwhile.
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	go func() {
		select {
		case <-s.Done():
			ccancel()
		case <-cctx.Done():
		}
	}()
	el := concurrency.NewElection(s, strings.TrimSuffix(ElectionPrefix, "/")) // it adds the "/"
	if cur, err := el.Leader(cctx); err == nil && len(cur.Kvs) > 0 {
		e.Log.Info("task names: another master publishes, standing by", "publisher", string(cur.Kvs[0].Value))
	}
	if err := el.Campaign(cctx, e.ID); err != nil {
		if errors.Is(cctx.Err(), context.Canceled) && ctx.Err() == nil {
			return false, errors.New("election lease lost while waiting")
		}
		return false, fmt.Errorf("campaign: %w", err)
	}
	f := Fence{Key: el.Key(), Rev: el.Rev()}
	e.set(f, true)
	e.Log.Info("task names: this master publishes them", "id", e.ID, "key", f.Key)
	if e.OnElected != nil {
		go e.OnElected()
	}
	// The key can also go while the lease lives (deleted by hand): then
	// another master may already lead, so the term ends here too.
	wch := e.Client.Watch(clientv3.WithRequireLeader(cctx), f.Key, clientv3.WithRev(f.Rev+1))
	defer e.set(Fence{}, false)
	for {
		select {
		case <-ctx.Done():
			e.set(Fence{}, false)
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = el.Resign(rctx)
			rcancel()
			return true, ctx.Err()
		case <-s.Done():
			return true, errors.New("election lease lost: another master may publish now")
		case wr, ok := <-wch:
			if !ok {
				return true, errors.New("watch of the election key ended")
			}
			if err := wr.Err(); err != nil {
				// etcd without a leader, or compacted past the key: this
				// master cannot tell that it still leads.
				return true, fmt.Errorf("watch of the election key: %w", err)
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					return true, fmt.Errorf("election key %s deleted", f.Key)
				}
			}
		}
	}
}
