package benchkit

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchStartTimeout bounds reading the store's revision to watch from.
const watchStartTimeout = 10 * time.Second

// Event is one change of a key under a watched prefix, with the moment the
// bench's watch delivered it: the anchor of a convergence measurement.
type Event struct {
	Key   string
	Put   bool // a PUT; false for a DELETE
	Value []byte
	Rev   int64 // the revision of the change
	At    time.Time
}

// Watcher records every change under a prefix with the time it arrived.
// Its watch runs over the same kind of connection the daemons' own
// watches do, so the bench learns of a change at about the same moment
// they do. Safe for concurrent use; any number of Awaits may wait at once.
type Watcher struct {
	prefix string
	mu     sync.Mutex
	events []Event
	err    error
	// changed is closed, and replaced, at each new event and at the end.
	changed chan struct{}
}

// Watch records the changes under prefix from the store's next revision
// until ctx ends.
func Watch(ctx context.Context, cli *clientv3.Client, prefix string) (*Watcher, error) {
	cctx, cancel := context.WithTimeout(ctx, watchStartTimeout)
	resp, err := cli.Get(cctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("watch %s: read revision: %w", prefix, err)
	}
	w := &Watcher{prefix: prefix, changed: make(chan struct{})}
	wch := cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	go func() {
		for wr := range wch {
			at := time.Now()
			if err := wr.Err(); err != nil {
				w.end(err)
				return
			}
			w.mu.Lock()
			for _, ev := range wr.Events {
				w.events = append(w.events, Event{Key: string(ev.Kv.Key), Put: ev.Type == clientv3.EventTypePut,
					Value: ev.Kv.Value, Rev: ev.Kv.ModRevision, At: at})
			}
			w.wakeLocked()
			w.mu.Unlock()
		}
		w.end(ctx.Err())
	}()
	return w, nil
}

func (w *Watcher) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = fmt.Errorf("watch %s ended: %v", w.prefix, err)
	}
	w.wakeLocked()
}

// wakeLocked wakes every Await; w.mu is held.
func (w *Watcher) wakeLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// Await returns the first event so far that match accepts, waiting up to
// timeout for one to arrive. It fails when the watch has ended or ctx
// ends first.
func (w *Watcher) Await(ctx context.Context, timeout time.Duration, match func(Event) bool) (Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		w.mu.Lock()
		evs, err, changed := w.events[seen:], w.err, w.changed
		seen = len(w.events)
		w.mu.Unlock()
		for _, ev := range evs {
			if match(ev) {
				return ev, nil
			}
		}
		if err != nil {
			return Event{}, err
		}
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-deadline.C:
			return Event{}, fmt.Errorf("no such change under %s within %v", w.prefix, timeout)
		case <-changed:
		}
	}
}

// Err is the error that ended the watch, nil while it runs.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
