package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// storeEvent is one change of a key as a watcher in this process saw it.
type storeEvent struct {
	Put   bool
	At    time.Time // when the watch delivered it here
	Rev   int64
	Value []byte
}

// watcher records every event under a prefix with the time it arrived:
// the anchor of the convergence and scale measurements. The watch runs
// over the same kind of connection overlayd's own watch does, so both
// learn of a change at about the same moment.
type watcher struct {
	prefix string
	mu     sync.Mutex
	events map[string][]storeEvent // by key
	notify chan struct{}
	err    error
}

// newWatcher starts watching prefix from the store's current revision; it
// stops when ctx ends.
func newWatcher(ctx context.Context, cli *clientv3.Client, prefix string) (*watcher, error) {
	cctx, cancel := context.WithTimeout(ctx, etcdOpTimeout)
	resp, err := cli.Get(cctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("watch %s: read revision: %w", prefix, err)
	}
	w := &watcher{prefix: prefix, events: map[string][]storeEvent{}, notify: make(chan struct{}, 1)}
	wch := cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	go func() {
		for wr := range wch {
			at := time.Now()
			if err := wr.Err(); err != nil {
				w.fail(err)
				return
			}
			w.mu.Lock()
			for _, ev := range wr.Events {
				k := string(ev.Kv.Key)
				w.events[k] = append(w.events[k], storeEvent{Put: ev.Type == clientv3.EventTypePut, At: at, Rev: ev.Kv.ModRevision, Value: ev.Kv.Value})
			}
			w.mu.Unlock()
			w.wake()
		}
		w.fail(ctx.Err())
	}()
	return w, nil
}

func (w *watcher) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = fmt.Errorf("watch %s ended: %v", w.prefix, err)
	}
	w.mu.Unlock()
	w.wake()
}

func (w *watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// await returns the first event of key with revision > afterRev and the
// given kind, waiting at most timeout.
func (w *watcher) await(ctx context.Context, key string, put bool, afterRev int64, timeout time.Duration) (storeEvent, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		evs, err := w.events[key], w.err
		w.mu.Unlock()
		for _, ev := range evs {
			if ev.Put == put && ev.Rev > afterRev {
				return ev, nil
			}
		}
		if err != nil {
			return storeEvent{}, err
		}
		select {
		case <-ctx.Done():
			return storeEvent{}, ctx.Err()
		case <-deadline.C:
			kind := "DELETE"
			if put {
				kind = "PUT"
			}
			return storeEvent{}, fmt.Errorf("no %s of %s in the store within %v", kind, strings.TrimPrefix(key, w.prefix), timeout)
		case <-w.notify:
		}
	}
}
