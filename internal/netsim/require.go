package netsim

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// RequireCommands skips the test unless every named program is on PATH.
func RequireCommands(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("netsim: test needs %q on PATH; run `make deps`", name)
		}
	}
}

// WaitFor calls fn every interval until it returns nil, timeout passes or
// ctx ends, whichever comes first. On failure the error carries fn's last
// error. fn is called at least once.
func WaitFor(ctx context.Context, timeout, interval time.Duration, fn func() error) error {
	if interval <= 0 {
		return errors.New("wait: interval must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for tries := 1; ; tries++ {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("gave up after %v (%d tries): %w", timeout, tries, err)
			}
			return fmt.Errorf("cancelled after %d tries: %w", tries, errors.Join(ctx.Err(), err))
		case <-tick.C:
		}
	}
}
