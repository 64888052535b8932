package netsim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWaitForSucceeds(t *testing.T) {
	calls := 0
	err := WaitFor(context.Background(), time.Second, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("WaitFor = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestWaitForTimesOut(t *testing.T) {
	start := time.Now()
	err := WaitFor(context.Background(), 50*time.Millisecond, 10*time.Millisecond, func() error {
		return errors.New("peer unreachable")
	})
	if err == nil || !strings.Contains(err.Error(), "peer unreachable") || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("WaitFor = %v, want a time-out carrying the last error", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("WaitFor took %v, want about 50ms", el)
	}
}

func TestWaitForCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := WaitFor(ctx, time.Hour, time.Hour, func() error { calls++; return errors.New("no") })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("WaitFor = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func TestWaitForBadInterval(t *testing.T) {
	if err := WaitFor(context.Background(), time.Second, 0, func() error { return nil }); err == nil {
		t.Fatal("WaitFor with interval 0: want error")
	}
}
