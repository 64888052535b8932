package poll

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/dcnet/dcnet/dns/mesos"
)

// Defaults of a Poller.
const (
	// DefaultInterval is the time between two polls.
	DefaultInterval = 5 * time.Second
	// DefaultMaxBackoff bounds the wait after repeated failures.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultMinGap is the least time between the starts of two polls
	// when Kick asks for them: a burst of Mesos events costs a poll or
	// two, and a busy cluster at most one poll per gap.
	DefaultMinGap = 100 * time.Millisecond
)

// Fetcher fetches the current Mesos master state.
type Fetcher interface {
	// Fetch returns the state and where it came from (a URL or a path).
	// It must return within ctx's deadline; an error means no state.
	Fetch(ctx context.Context) (st mesos.State, from string, err error)
}

// Result is one fetched state document.
type Result struct {
	// State is the parsed document; zero when Unchanged.
	State mesos.State
	// From is where it came from (a URL or a path).
	From string
	// Digest identifies the document's bytes.
	Digest Digest
	// Unchanged is set when the document's digest was the one asked about:
	// it was not parsed.
	Unchanged bool
}

// ChangeFetcher is a Fetcher that can tell an unchanged document from its
// bytes, before parsing it (HTTPFetcher, FileFetcher).
type ChangeFetcher interface {
	Fetcher
	// FetchIfChanged fetches the state; a document with digest last is not
	// parsed and comes back with Unchanged set.
	FetchIfChanged(ctx context.Context, last Digest) (Result, error)
}

// Poller fetches the state every Interval and hands each good one to
// OnState. A failed fetch leaves the last good state in place. With a
// ChangeFetcher, a document whose bytes did not change since the last
// good one is neither parsed nor handed on (OnUnchanged is called).
type Poller struct {
	// Fetcher is where the state comes from.
	Fetcher Fetcher
	// Interval is the time between polls; default DefaultInterval.
	Interval time.Duration
	// MaxBackoff bounds the wait after failures; default DefaultMaxBackoff
	// (never below Interval).
	MaxBackoff time.Duration
	// OnState receives every good state, from the goroutine that calls Poll
	// or Run.
	OnState func(st mesos.State, from string)
	// OnUnchanged, when set, is called instead of OnState when a
	// ChangeFetcher's document did not change, from the same goroutine.
	OnUnchanged func()
	// Log receives failures; nil discards them.
	Log *slog.Logger
	// MinGap is the least time between the starts of two polls asked for
	// by Kick; default DefaultMinGap.
	MinGap time.Duration

	kickOnce   sync.Once
	kick       chan struct{}
	mu         sync.Mutex
	lastDigest Digest
	lastFrom   string
	lastAt     time.Time
	lastErr    error
}

// Poll fetches once and, on success, calls OnState (or OnUnchanged). It
// returns the fetch error; the last good state stays as it was then.
func (p *Poller) Poll(ctx context.Context) error {
	r, err := p.fetch(ctx)
	p.mu.Lock()
	p.lastErr = err
	if err == nil {
		p.lastDigest, p.lastFrom, p.lastAt = r.Digest, r.From, time.Now()
	}
	p.mu.Unlock()
	switch {
	case err != nil:
		return err
	case r.Unchanged:
		if p.OnUnchanged != nil {
			p.OnUnchanged()
		}
	case p.OnState != nil:
		p.OnState(r.State, r.From)
	}
	return nil
}

// fetch asks the Fetcher, passing the last good digest to a ChangeFetcher.
func (p *Poller) fetch(ctx context.Context) (Result, error) {
	cf, ok := p.Fetcher.(ChangeFetcher)
	if !ok {
		st, from, err := p.Fetcher.Fetch(ctx)
		return Result{State: st, From: from}, err
	}
	p.mu.Lock()
	last := p.lastDigest
	p.mu.Unlock()
	return cf.FetchIfChanged(ctx, last)
}

// Forget makes the next poll parse and hand on the document even if its
// bytes did not change (what is made of a state changed: the masters
// ZooKeeper names, say). Safe from any goroutine.
func (p *Poller) Forget() {
	p.mu.Lock()
	p.lastDigest = 0
	p.mu.Unlock()
}

// Last returns where and when the last good state was fetched; ok is
// false before the first success. The state itself is not kept: it is
// handed to OnState and then dropped, so its memory is freed.
func (p *Poller) Last() (from string, at time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastFrom, p.lastAt, !p.lastAt.IsZero()
}

// Err returns the error of the latest poll, nil after a success.
func (p *Poller) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Kick asks Run for a poll now instead of at the end of the interval (a
// Mesos event said the state changed); kicks while a poll runs or waits
// coalesce into one poll. A kicked poll starts at least MinGap, and at
// least twice the last poll's duration, after the last poll's start, so a
// stream of events keeps the poller at most half of the time busy. Safe
// from any goroutine.
func (p *Poller) Kick() {
	select {
	case p.kickCh() <- struct{}{}:
	default:
	}
}

func (p *Poller) kickCh() chan struct{} {
	p.kickOnce.Do(func() { p.kick = make(chan struct{}, 1) })
	return p.kick
}

// Run polls until ctx ends: immediately, then every Interval (or at a
// Kick), backing off after failures.
func (p *Poller) Run(ctx context.Context) { p.RunAfter(ctx, 0) }

// RunAfter is Run with the first poll after first (or at a Kick), for a
// caller that has just polled itself.
func (p *Poller) RunAfter(ctx context.Context, first time.Duration) {
	interval, maxBackoff := p.intervals()
	gap := p.MinGap
	if gap <= 0 {
		gap = DefaultMinGap
	}
	wait, next := interval, first
	var lastStart time.Time   // of the last poll
	var lastDur time.Duration // how long it took
	for ctx.Err() == nil {
		if next > 0 {
			kicked, ok := p.waitOrKick(ctx, next)
			// A kicked poll starts at least gap, and at least twice the
			// last poll's duration (a big state regenerated), after the
			// last poll's start: kicked polls take at most half the time.
			if !ok || kicked && !sleep(ctx, time.Until(lastStart.Add(max(gap, 2*lastDur)))) {
				return
			}
		}
		start := time.Now()
		err := p.Poll(ctx)
		lastStart, lastDur = start, time.Since(start)
		if err == nil {
			wait = interval
		} else if ctx.Err() == nil && p.Log != nil {
			p.Log.Warn("mesos state: poll failed, serving the last good state", "err", err, "retry", wait)
		}
		next = wait
		if err != nil {
			wait = nextBackoff(wait, maxBackoff)
		}
	}
}

// waitOrKick waits d or until a Kick (kicked); ok is false when ctx ended.
func (p *Poller) waitOrKick(ctx context.Context, d time.Duration) (kicked, ok bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, false
	case <-t.C:
		return false, true
	case <-p.kickCh():
		return true, true
	}
}

// sleep waits d (nothing when d <= 0); false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// intervals are Interval and MaxBackoff with defaults applied.
func (p *Poller) intervals() (interval, maxBackoff time.Duration) {
	interval, maxBackoff = p.Interval, p.MaxBackoff
	if interval <= 0 {
		interval = DefaultInterval
	}
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	return interval, max(maxBackoff, interval)
}

// nextBackoff doubles wait up to limit.
func nextBackoff(wait, limit time.Duration) time.Duration {
	return min(wait*2, limit)
}
