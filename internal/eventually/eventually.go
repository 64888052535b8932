// Package eventually waits, in tests, for a condition that other
// goroutines make true: a bounded poll that fails the test with what it
// waited for.
package eventually

import (
	"testing"
	"time"
)

// Poll is the interval between two checks.
const Poll = 10 * time.Millisecond

// True checks cond every Poll until it holds, and fails t when it still
// does not after within.
func True(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(Poll)
	}
}
