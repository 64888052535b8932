package source

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
)

// DefaultEtcdResync is the period of the full re-read of a mirrored
// prefix: the watch carries every change in between, the re-read proves
// the view is current (LastSync) and repairs a watch that went quiet.
const DefaultEtcdResync = time.Minute

// Decoded mirrors an etcd prefix (a cluster.Sink fed by a
// cluster.Mirror), decoding each value once per revision: a full read,
// the watch's changes as they come, a full read again every resync
// period and after a broken watch. While etcd is unreachable it keeps
// its last view; LastReset stops advancing.
type Decoded[T any] struct {
	mirror *cluster.Mirror
	prefix string
	decode func(key string, value []byte) (T, bool, error)
	log    *slog.Logger
	// OnChange, when set, is called after every applied change (from
	// Run's goroutine).
	OnChange func()
	// OnFailure, when set, is called when a resync period ends without a
	// successful full read (etcd unreachable).
	OnFailure func(error)

	mu        sync.RWMutex
	items     map[string]decoded[T]
	sorted    []T
	synced    bool
	lastReset time.Time
}

type decoded[T any] struct {
	rev int64
	v   T
}

var _ cluster.Sink = (*Decoded[int])(nil)

// NewDecoded mirrors prefix on s. decode turns one value into T; ok
// false skips the key (not wanted here), an error skips it with a log
// line once per revision.
func NewDecoded[T any](s *cluster.Store, prefix string, decode func(key string, value []byte) (T, bool, error), log *slog.Logger) *Decoded[T] {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Decoded[T]{prefix: prefix, decode: decode, log: log, items: map[string]decoded[T]{}}
	d.mirror = cluster.NewMirror(s, prefix, d, log)
	return d
}

// Run mirrors until ctx ends, reading everything again every resync
// (0: DefaultEtcdResync).
func (d *Decoded[T]) Run(ctx context.Context, resync time.Duration) {
	if resync <= 0 {
		resync = DefaultEtcdResync
	}
	for ctx.Err() == nil {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, resync)
		d.mirror.Run(rctx)
		cancel()
		if ctx.Err() == nil && d.LastReset().Before(start) && d.OnFailure != nil {
			d.OnFailure(fmt.Errorf("no full read of %s in %v: etcd unreachable, serving the last view", d.prefix, resync))
		}
	}
}

// Reset implements cluster.Sink: values whose revision is unchanged keep
// their decoded form.
func (d *Decoded[T]) Reset(kvs []cluster.Change) {
	d.mu.RLock()
	old := d.items
	d.mu.RUnlock()
	items := make(map[string]decoded[T], len(kvs))
	for _, kv := range kvs {
		if it, ok := old[kv.Key]; ok && it.rev == kv.Rev {
			items[kv.Key] = it
			continue
		}
		if it, ok := d.decoded(kv); ok {
			items[kv.Key] = it
		}
	}
	d.mu.Lock()
	d.items, d.sorted, d.synced, d.lastReset = items, nil, true, time.Now()
	d.mu.Unlock()
	d.changed()
}

// Update implements cluster.Sink.
func (d *Decoded[T]) Update(changes []cluster.Change) {
	d.mu.Lock()
	for _, ch := range changes {
		if ch.Value == nil {
			delete(d.items, ch.Key)
			continue
		}
		if it, ok := d.decoded(ch); ok {
			d.items[ch.Key] = it
		} else {
			delete(d.items, ch.Key)
		}
	}
	d.sorted = nil
	d.mu.Unlock()
	d.changed()
}

func (d *Decoded[T]) decoded(kv cluster.Change) (decoded[T], bool) {
	v, ok, err := d.decode(kv.Key, kv.Value)
	if err != nil {
		d.log.Warn("etcd record ignored", "key", kv.Key, "err", err)
		return decoded[T]{}, false
	}
	return decoded[T]{rev: kv.Rev, v: v}, ok
}

func (d *Decoded[T]) changed() {
	if d.OnChange != nil {
		d.OnChange()
	}
}

// Synced reports whether a full read reached the view once.
func (d *Decoded[T]) Synced() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.synced
}

// LastReset is when the last full read succeeded.
func (d *Decoded[T]) LastReset() time.Time {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.lastReset
}

// Items returns the decoded values in key order. The slice is shared:
// read only.
func (d *Decoded[T]) Items() []T {
	d.mu.RLock()
	out := d.sorted
	d.mu.RUnlock()
	if out != nil {
		return out
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sorted == nil {
		keys := make([]string, 0, len(d.items))
		for k := range d.items {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d.sorted = make([]T, 0, len(keys))
		for _, k := range keys {
			d.sorted = append(d.sorted, d.items[k].v)
		}
	}
	return d.sorted
}

// Get returns the value of key.
func (d *Decoded[T]) Get(key string) (T, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	it, ok := d.items[key]
	return it.v, ok
}
