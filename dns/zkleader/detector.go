package zkleader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"time"

	"github.com/go-zookeeper/zk"
)

// Timings of a Detector.
const (
	// SessionTimeout is the ZooKeeper session timeout asked for.
	SessionTimeout = 10 * time.Second
	// minRetry and maxRetry bound the wait after a failed connection or
	// read, doubling in between.
	minRetry = 250 * time.Millisecond
	maxRetry = 10 * time.Second
	// connectWait bounds the wait for a session before a read is tried
	// anyway (and fails, and is retried).
	connectWait = 5 * time.Second
)

// Detector reports the leading Mesos master from ZooKeeper; Run drives it.
type Detector struct {
	// URL is the election's ZooKeeper URL.
	URL URL
	// OnChange receives every change of Masters (the first report too),
	// from Run's goroutine; a ZooKeeper that cannot be reached is reported
	// once, as no leader, after it failed for NoLeaderAfter.
	OnChange func(Masters)
	// NoLeaderAfter is how long ZooKeeper may be unreachable before no
	// leader is reported; 0 means SessionTimeout.
	NoLeaderAfter time.Duration
	// Log receives failures; nil discards them.
	Log *slog.Logger
	// Dial, when set, opens the connections to the servers (a test
	// reaching a ZooKeeper inside a network namespace); nil: net.Dial.
	Dial zk.Dialer
}

// Run watches the election until ctx ends, reconnecting with backoff.
func (d *Detector) Run(ctx context.Context) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	noLeaderAfter := d.NoLeaderAfter
	if noLeaderAfter <= 0 {
		noLeaderAfter = SessionTimeout
	}
	var last *Masters
	report := func(m Masters) {
		if last == nil || !last.Equal(m) {
			last = &m
			d.OnChange(m)
		}
	}
	failingSince := time.Time{}
	wait := minRetry
	for ctx.Err() == nil {
		err := d.session(ctx, log, func(m Masters) { failingSince, wait = time.Time{}, minRetry; report(m) })
		if ctx.Err() != nil {
			return
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		if time.Since(failingSince) >= noLeaderAfter && (last == nil || last.Leader != "") {
			report(Masters{})
		}
		log.Warn("zookeeper: leader detection failed, retrying", "zk", d.URL.String(), "err", err, "retry", wait)
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, maxRetry)
	}
}

// session holds one ZooKeeper session, reporting the election after each
// change, until it fails or ctx ends.
func (d *Detector) session(ctx context.Context, log *slog.Logger, report func(Masters)) error {
	dial := d.Dial
	if dial == nil {
		dial = net.DialTimeout
	}
	conn, events, err := zk.Connect(d.URL.Servers, SessionTimeout, zk.WithLogger(quiet{}), zk.WithDialer(dial))
	if err != nil {
		return fmt.Errorf("connect %v: %w", d.URL.Servers, err)
	}
	defer conn.Close()
	if err := waitConnected(ctx, events); err != nil {
		return err
	}
	if d.URL.Auth != "" {
		if err := conn.AddAuth("digest", []byte(d.URL.Auth)); err != nil {
			return fmt.Errorf("authenticate as %s: %w", d.URL.String(), err)
		}
	}
	for ctx.Err() == nil {
		children, _, watch, err := conn.ChildrenW(d.URL.Path)
		if errors.Is(err, zk.ErrNoNode) {
			// No master ever ran: no leader, until the path appears.
			report(Masters{})
			var ok bool
			if ok, _, watch, err = conn.ExistsW(d.URL.Path); err == nil && ok {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", d.URL.Path, err)
		}
		if children != nil {
			m, errs := Leading(children, func(name string) ([]byte, error) {
				data, _, err := conn.Get(path.Join(d.URL.Path, name))
				return data, err
			})
			for _, e := range errs {
				log.Warn("zookeeper: contender skipped", "zk", d.URL.String(), "err", e)
			}
			report(m)
		}
		select {
		case <-ctx.Done():
		case ev := <-watch:
			if ev.Err != nil {
				return fmt.Errorf("watch %s: %w", d.URL.Path, ev.Err)
			}
		case ev := <-events:
			if ev.State == zk.StateExpired {
				return fmt.Errorf("session expired")
			}
		}
	}
	return nil
}

// waitConnected waits for the session (a server accepted it), ctx or
// connectWait.
func waitConnected(ctx context.Context, events <-chan zk.Event) error {
	t := time.NewTimer(connectWait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("no session within %s", connectWait)
		case ev, ok := <-events:
			if !ok {
				return errors.New("connection closed")
			}
			if ev.State == zk.StateHasSession {
				return nil
			}
		}
	}
}

// sleep waits d; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// quiet drops the client library's own log lines (Run logs failures).
type quiet struct{}

func (quiet) Printf(string, ...any) {}
