package netsim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Name prefixes of the tests and benchmarks that may call Privileged, so
// that `go test -run TestPrivileged` selects exactly the kernel tests and a
// reader knows one from its name.
const (
	PrivilegedTestPrefix  = "TestPrivileged"
	PrivilegedBenchPrefix = "BenchmarkPrivileged"
)

// CheckPrivileged returns nil when this process can build namespaces
// (effective uid 0 and `ip` from iproute2 on PATH), else an error that says
// what is missing. Privileged skips on it; a benchmark main fails on it.
func CheckPrivileged() error {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("needs root (euid is %d): it creates network namespaces (nothing changes in the host's own); run it as root", euid)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs `ip` from iproute2 on PATH; run `make deps`")
	}
	return nil
}

// Privileged is the one gate of every test that touches the kernel. It
//
//   - fails the test unless its top-level name starts with TestPrivileged
//     (BenchmarkPrivileged for a benchmark), whoever runs it;
//   - skips it in -short mode, without root or `ip` (CheckPrivileged), and
//     without any of commands on PATH;
//   - guards the host namespace: it snapshots it now and fails the test in
//     t.Cleanup if it changed (see SnapshotHost).
//
// Call it first, before anything that registers a cleanup, so that the
// guard's check runs after every other cleanup (they run last-in
// first-out). A subtest of a test that already called it is not guarded a
// second time: its parent's guard covers it.
func Privileged(t testing.TB, commands ...string) {
	t.Helper()
	if err := checkPrivilegedName(t); err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		t.Skip("netsim: privileged test skipped in -short mode")
	}
	if err := CheckPrivileged(); err != nil {
		t.Skipf("netsim: privileged test skipped: %v", err)
	}
	RequireCommands(t, commands...)
	if guardedAbove(t.Name()) {
		return
	}
	guarded.Store(t.Name(), true)
	t.Cleanup(func() { guarded.Delete(t.Name()) })
	guardHost(t)
}

// checkPrivilegedName returns an error unless the top-level test (or
// benchmark) of t carries the privileged prefix.
func checkPrivilegedName(t testing.TB) error {
	prefix := PrivilegedTestPrefix
	if _, ok := t.(*testing.B); ok {
		prefix = PrivilegedBenchPrefix
	}
	return checkName(t.Name(), prefix)
}

// checkName returns an error unless the top-level part of the test name
// name (before the first "/") starts with prefix.
func checkName(name, prefix string) error {
	top, _, _ := strings.Cut(name, "/")
	if !strings.HasPrefix(top, prefix) {
		return fmt.Errorf("netsim: %s touches the kernel: rename it %s... (netsim.Privileged is for kernel tests only)", top, prefix)
	}
	return nil
}

// guarded holds the names of the tests whose host guard is running.
var guarded sync.Map

// guardedAbove reports whether a test enclosing the test named name (its
// parent, grand-parent, ...) or the test itself is guarded already.
func guardedAbove(name string) bool {
	for {
		if _, ok := guarded.Load(name); ok {
			return true
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return false
		}
		name = name[:i]
	}
}
