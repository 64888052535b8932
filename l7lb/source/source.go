// Package source holds what dcnet-l7lb's sources of truth share: the
// Source interface the daemon runs them through, and Tracker, which
// keeps a source's freshness and failures for the status page, the
// health endpoint and the metrics.
//
// Every source is watched (an event stream or an etcd watch) and fully
// re-read on a timer and after every reconnect, keeps its last good view
// while what it reads from is down or answers garbage, and says so in
// its status: LastSync stops advancing, Errors counts each failure by
// kind.
package source

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/dcnet/dcnet/l7lb/l7lbapi"
)

// Source is one watched source of truth.
type Source interface {
	// Name is "marathon", "mesos", "endpoints" or "pool".
	Name() string
	// Run watches and resyncs until ctx ends; failures are logged,
	// counted and retried, never returned.
	Run(ctx context.Context)
	// Synced reports whether the source delivered a full view once (a
	// build before that would drop what it has not delivered yet).
	Synced() bool
	// Status reports freshness and failures; safe from any goroutine.
	Status() l7lbapi.SourceStatus
	// Errors counts failures by kind since the start.
	Errors() map[string]uint64
}

// Tracker records a source's syncs and failures; safe for concurrent use.
type Tracker struct {
	name string
	now  func() time.Time

	mu       sync.Mutex
	synced   bool
	lastSync time.Time
	errs     map[string]uint64
	total    int
	lastErr  string
	lastAt   time.Time
	detail   string
}

// NewTracker returns a tracker of the source called name.
func NewTracker(name string) *Tracker {
	return &Tracker{name: name, now: time.Now, errs: map[string]uint64{}}
}

// Synced records that the source's view is complete and current now.
func (t *Tracker) Synced() {
	t.mu.Lock()
	t.synced, t.lastSync = true, t.now()
	t.mu.Unlock()
}

// SyncedAt records that the source's view was complete and current at
// t (the oldest of its parts' last full reads).
func (t *Tracker) SyncedAt(at time.Time) {
	t.mu.Lock()
	t.synced, t.lastSync = true, at
	t.mu.Unlock()
}

// Fresh records that a synced source is still current (a live stream
// brought a heartbeat); it does nothing before the first Synced.
func (t *Tracker) Fresh() {
	t.mu.Lock()
	if t.synced {
		t.lastSync = t.now()
	}
	t.mu.Unlock()
}

// Failed records one failure of kind ("list", "stream_idle", ...).
func (t *Tracker) Failed(kind string, err error) {
	t.mu.Lock()
	t.errs[kind]++
	t.total++
	t.lastErr, t.lastAt = kind+": "+err.Error(), t.now()
	t.mu.Unlock()
}

// Detail sets where the source reads from right now.
func (t *Tracker) Detail(d string) {
	t.mu.Lock()
	t.detail = d
	t.mu.Unlock()
}

// IsSynced reports whether the source delivered a full view once.
func (t *Tracker) IsSynced() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.synced
}

// Status renders the tracker for GET /v1/status.
func (t *Tracker) Status() l7lbapi.SourceStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return l7lbapi.SourceStatus{Name: t.name, Synced: t.synced, LastSync: t.lastSync, Errors: t.total,
		LastError: t.lastErr, LastErrorAt: t.lastAt, Detail: t.detail}
}

// Errors counts failures by kind.
func (t *Tracker) Errors() map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]uint64, len(t.errs))
	for k, v := range t.errs {
		out[k] = v
	}
	return out
}

// Kinds lists error kinds in order (for stable metrics and tests).
func Kinds(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Backoff is a doubling wait between retries, from Min up to Max.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the wait before the next retry and doubles the one after.
func (b *Backoff) Next() time.Duration {
	if b.cur < b.Min {
		b.cur = b.Min
	}
	d := b.cur
	b.cur = min(2*b.cur, b.Max)
	return d
}

// Reset starts the waits from Min again (after a success).
func (b *Backoff) Reset() { b.cur = 0 }

// Sleep waits d or until ctx ends; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
