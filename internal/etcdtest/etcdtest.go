// Package etcdtest starts a single-member etcd inside the test process, on
// loopback ports of its own, for tests of code that talks to the cluster
// store (unit tests without root; no namespaces involved).
package etcdtest

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/cluster/embedded"
)

// Store starts an embedded etcd for t and returns a store connected to it;
// both are closed when t ends.
func Store(t testing.TB) *cluster.Store {
	t.Helper()
	s, _ := StoreStoppable(t)
	return s
}

// StoreStoppable is Store plus stop, which shuts the embedded etcd down
// before t ends (the store stays open; its calls then fail or wait), for
// tests of code that faces a dead etcd.
func StoreStoppable(t testing.TB) (s *cluster.Store, stop func()) {
	t.Helper()
	e, err := embedded.Start("test", t.TempDir(), freeURL(t), freeURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(e.Close) }
	s, err = cluster.Connect(cluster.Options{Endpoints: []string{e.ClientURL}})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); stop() })
	return s, stop
}

// freeURL is an http URL on a loopback port free right now.
func freeURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("http://%s", l.Addr())
}
