package cluster

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Change is one key of a mirrored prefix: its value, or nil when it was
// deleted, and the revision that last modified it (0 for a delete).
type Change struct {
	Key   string
	Value []byte
	Rev   int64
}

// Sink receives the mirrored keys. Its methods are called from Run's
// goroutine, one at a time.
type Sink interface {
	// Reset replaces the whole view by kvs (every key under the prefix).
	Reset(kvs []Change)
	// Update applies changes in order; a nil Value deletes the key.
	Update(changes []Change)
}

// RevisionSink is a Sink that also learns the store revision its view
// reflects with each hand-over, so that it can say, consistently with its
// contents, up to which revision every change under the prefix has reached
// it (a watch answer's revision covers events under the prefix only up to
// it). The mirror calls ResetAt and UpdateAt instead of Reset and Update.
type RevisionSink interface {
	Sink
	// ResetAt is Reset of a full read at revision rev.
	ResetAt(kvs []Change, rev int64)
	// UpdateAt is Update of a watch answer of revision rev.
	UpdateAt(changes []Change, rev int64)
}

// Retry bounds of a failed read.
const (
	mirrorRetryMin = 200 * time.Millisecond
	mirrorRetryMax = 5 * time.Second
	// mirrorReadTimeout bounds the full read.
	mirrorReadTimeout = 30 * time.Second
	// DefaultPageSize is the most keys one request of a full read returns:
	// the read is paged at one revision, so a prefix of 100,000 keys never
	// sits in memory twice (as one response and as the sink's view).
	DefaultPageSize = 5000
)

// Mirror keeps a local view of an etcd prefix up to date one key at a
// time: a full read (Sink.Reset), then a watch from that read's revision
// whose events are handed over as they come (Sink.Update). A change costs
// work in proportion to the keys it touches, not to the whole prefix, and
// the mirror keeps no copy of the values; the sink holds what it needs
// (Cache keeps the raw values; dns zones and l4lb's record cache keep them
// decoded). While etcd is unreachable the sink keeps its last view; a
// broken or compacted watch is followed by a new full read.
type Mirror struct {
	client *clientv3.Client
	prefix string
	sink   Sink
	log    *slog.Logger
	synced atomic.Bool
	// PageSize is the page of the full read (DefaultPageSize); set it
	// before Run.
	PageSize int64
}

// NewMirror returns a mirror of prefix on s into sink; call Run.
func NewMirror(s *Store, prefix string, sink Sink, log *slog.Logger) *Mirror {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mirror{client: s.Client, prefix: prefix, sink: sink, log: log, PageSize: DefaultPageSize}
}

// Synced reports whether the first full read reached the sink.
func (m *Mirror) Synced() bool { return m.synced.Load() }

// Run mirrors until ctx ends.
func (m *Mirror) Run(ctx context.Context) {
	backoff := mirrorRetryMin
	for ctx.Err() == nil {
		rev, err := m.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("etcd mirror: read failed, serving the last view", "prefix", m.prefix, "err", err, "retry", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, mirrorRetryMax)
			continue
		}
		backoff = mirrorRetryMin
		m.watch(ctx, rev)
	}
}

// Read hands every key under the prefix to the sink (Sink.Reset), read in
// pages at one revision, and returns that revision. Run calls it; a test
// may call it to force a full re-read.
func (m *Mirror) Read(ctx context.Context) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, mirrorReadTimeout)
	defer cancel()
	end := clientv3.GetPrefixRangeEnd(m.prefix)
	from, rev := m.prefix, int64(0)
	var kvs []Change
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(m.PageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := m.client.Get(rctx, from, opts...)
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
			kvs = make([]Change, 0, resp.Count)
		}
		for _, kv := range resp.Kvs {
			kvs = append(kvs, Change{Key: string(kv.Key), Value: kv.Value, Rev: kv.ModRevision})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if rs, ok := m.sink.(RevisionSink); ok {
		rs.ResetAt(kvs, rev)
	} else {
		m.sink.Reset(kvs)
	}
	m.synced.Store(true)
	return rev, nil
}

// watch hands the watch's events to the sink until it breaks.
func (m *Mirror) watch(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range m.client.Watch(wctx, m.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			m.log.Warn("etcd mirror: watch broken, reading again", "prefix", m.prefix, "err", err)
			return
		}
		changes := make([]Change, len(wr.Events))
		for i, ev := range wr.Events {
			changes[i] = Change{Key: string(ev.Kv.Key)}
			if ev.Type != clientv3.EventTypeDelete {
				changes[i].Value, changes[i].Rev = ev.Kv.Value, ev.Kv.ModRevision
				if changes[i].Value == nil {
					changes[i].Value = []byte{}
				}
			}
		}
		if rs, ok := m.sink.(RevisionSink); ok {
			rs.UpdateAt(changes, wr.Header.Revision)
		} else {
			m.sink.Update(changes)
		}
	}
}
