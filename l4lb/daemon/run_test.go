package daemon

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
)

// TestRunStopsOnCancel: a cancelled daemon returns promptly, its HTTP
// server included, even with the store out of reach.
func TestRunStopsOnCancel(t *testing.T) {
	store, err := cluster.Connect(cluster.Options{Endpoints: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d, err := New(Options{Store: store, Kernel: dataplane.NewFake(), Node: "n1", HTTPAddr: "127.0.0.1:0",
		SyncInterval: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of cancel")
	}
}
