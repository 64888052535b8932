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
)

// Fetcher fetches the current Mesos master state.
type Fetcher interface {
	// Fetch returns the state and where it came from (a URL or a path).
	// It must return within ctx's deadline; an error means no state.
	Fetch(ctx context.Context) (st mesos.State, from string, err error)
}

// Poller fetches the state every Interval and hands each good one to
// OnState. A failed fetch leaves the last good state in place.
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
	// Log receives failures; nil discards them.
	Log *slog.Logger

	mu       sync.Mutex
	last     mesos.State
	lastFrom string
	lastAt   time.Time
	lastErr  error
}

// Poll fetches once and, on success, calls OnState. It returns the fetch
// error; the last good state stays as it was then.
func (p *Poller) Poll(ctx context.Context) error {
	st, from, err := p.Fetcher.Fetch(ctx)
	p.mu.Lock()
	p.lastErr = err
	if err == nil {
		p.last, p.lastFrom, p.lastAt = st, from, time.Now()
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if p.OnState != nil {
		p.OnState(st, from)
	}
	return nil
}

// Last returns the last good state, where and when it was fetched; ok is
// false before the first success.
func (p *Poller) Last() (st mesos.State, from string, at time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.lastFrom, p.lastAt, !p.lastAt.IsZero()
}

// Err returns the error of the latest poll, nil after a success.
func (p *Poller) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Run polls until ctx ends: immediately, then every Interval, backing off
// after failures.
func (p *Poller) Run(ctx context.Context) {
	interval, maxBackoff := p.intervals()
	wait := interval
	for ctx.Err() == nil {
		err := p.Poll(ctx)
		if err == nil {
			wait = interval
		} else if ctx.Err() == nil && p.Log != nil {
			p.Log.Warn("mesos state: poll failed, serving the last good state", "err", err, "retry", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err != nil {
			wait = nextBackoff(wait, maxBackoff)
		}
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
