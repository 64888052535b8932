package benchkit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/etcdtest"
)

func TestWatcher(t *testing.T) {
	cli := etcdtest.Store(t).Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := cli.Put(ctx, "/w/before", "old"); err != nil {
		t.Fatal(err)
	}
	w, err := Watch(ctx, cli, "/w/")
	if err != nil {
		t.Fatal(err)
	}
	key := func(k string, put bool) func(Event) bool {
		return func(ev Event) bool { return ev.Key == k && ev.Put == put }
	}
	// Two waiters at once both see the PUT that arrives while they wait.
	var wg sync.WaitGroup
	got := make([]Event, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = w.Await(ctx, 5*time.Second, key("/w/a", true))
		}()
	}
	time.Sleep(20 * time.Millisecond)
	put, err := cli.Put(ctx, "/w/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, ev := range got {
		if ev.Rev != put.Header.Revision || string(ev.Value) != "1" || ev.At.IsZero() {
			t.Errorf("waiter %d got %+v, want the PUT at revision %d", i, ev, put.Header.Revision)
		}
	}
	if _, err := cli.Delete(ctx, "/w/a"); err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Await(ctx, 5*time.Second, key("/w/a", false)); err != nil || ev.Put {
		t.Errorf("DELETE: %+v, %v", ev, err)
	}
	// A change from before the watch, or outside its prefix, never comes.
	if _, err := cli.Put(ctx, "/x/a", "1"); err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Await(ctx, 50*time.Millisecond, func(ev Event) bool { return ev.Key != "/w/a" }); err == nil {
		t.Errorf("got %+v, want none", ev)
	}
	cancel()
	if _, err := w.Await(context.Background(), 5*time.Second, key("/w/b", true)); err == nil {
		t.Error("Await after the watch ended: no error")
	}
	if w.Err() == nil {
		t.Error("Err after the watch ended: nil")
	}
}
