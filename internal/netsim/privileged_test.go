package netsim

import (
	"strings"
	"sync/atomic"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
		ok           bool
	}{
		{"TestPrivilegedFabric", PrivilegedTestPrefix, true},
		{"TestPrivilegedVerify/extra_address", PrivilegedTestPrefix, true},
		{"TestPrivileged", PrivilegedTestPrefix, true},
		{"TestFabric", PrivilegedTestPrefix, false},
		{"TestUnit/TestPrivilegedSub", PrivilegedTestPrefix, false},
		{"TestprivilegedLower", PrivilegedTestPrefix, false},
		{"BenchmarkPrivilegedConntrackDeleteUDP/filtered", PrivilegedBenchPrefix, true},
		{"BenchmarkConntrackDeleteUDP", PrivilegedBenchPrefix, false},
	} {
		err := checkName(tc.name, tc.prefix)
		if (err == nil) != tc.ok {
			t.Errorf("checkName(%q, %q) = %v, want ok %v", tc.name, tc.prefix, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "rename it "+tc.prefix) {
			t.Errorf("checkName(%q): %q does not say how to fix it", tc.name, err)
		}
	}
}

func TestGuardedAbove(t *testing.T) {
	guarded.Store("TestPrivilegedX", true)
	defer guarded.Delete("TestPrivilegedX")
	for name, want := range map[string]bool{
		"TestPrivilegedX":       true,
		"TestPrivilegedX/a":     true,
		"TestPrivilegedX/a/b#1": true,
		"TestPrivilegedXY":      false,
		"TestPrivilegedY/a":     false,
	} {
		if got := guardedAbove(name); got != want {
			t.Errorf("guardedAbove(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestPrivilegedGateSubtests: subtests and parallel subtests of a gated
// test pass the gate, and only the test itself snapshots the host.
func TestPrivilegedGateSubtests(t *testing.T) {
	Privileged(t)
	var passed atomic.Int32
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"a", "b", "c"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				Privileged(t)
				if !guardedAbove(t.Name()) {
					t.Errorf("%s: not covered by its parent's guard", t.Name())
				}
				if _, own := guarded.Load(t.Name()); own {
					t.Errorf("%s: guarded a second time", t.Name())
				}
				passed.Add(1)
			})
		}
	})
	if passed.Load() != 3 {
		t.Errorf("%d of 3 subtests passed the gate", passed.Load())
	}
}
