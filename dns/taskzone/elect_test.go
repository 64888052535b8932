package taskzone_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/taskzone"
	"github.com/dcnet/dcnet/internal/etcdtest"
)

// master is one campaigning elector with its publisher.
type master struct {
	el      *taskzone.Elector
	pub     *taskzone.Publisher
	elected chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

func startMaster(t *testing.T, s *cluster.Store, id string) *master {
	t.Helper()
	m := &master{elected: make(chan struct{}, 4), done: make(chan struct{})}
	m.el = &taskzone.Elector{Client: s.Client, ID: id, TTL: 2, Log: slog.New(slog.DiscardHandler),
		OnElected: func() { m.elected <- struct{}{} }}
	m.pub = taskzone.NewPublisher(taskzone.EtcdStore{Store: s})
	m.pub.Leader = m.el.Leader
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { defer close(m.done); m.el.Run(ctx) }()
	t.Cleanup(m.stop)
	return m
}

func (m *master) stop() {
	m.cancel()
	<-m.done
}

func (m *master) leading() bool { _, ok := m.el.Leader(); return ok }

func waitElected(t *testing.T, m *master, within time.Duration) {
	t.Helper()
	select {
	case <-m.elected:
	case <-time.After(within):
		t.Fatalf("%s not elected within %v", m.el.ID, within)
	}
}

// TestElectorOnePublisher: of two masters on one etcd exactly one
// publishes; the other's publishes are standby; when the publisher stops
// (resigns) the other takes over at once, and a term that ended is fenced
// out of etcd.
func TestElectorOnePublisher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	ctx := context.Background()
	names := func(n int) *records.RecordSet {
		rs, err := records.TaskNames(state(n), records.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return &rs
	}
	a := startMaster(t, s, "a")
	waitElected(t, a, 10*time.Second)
	b := startMaster(t, s, "b")
	time.Sleep(300 * time.Millisecond) // b campaigns behind a
	if !a.leading() || b.leading() {
		t.Fatalf("leading: a %t, b %t; want a only", a.leading(), b.leading())
	}
	if st, err := b.pub.Publish(ctx, names(1)); err != nil || !st.Standby {
		t.Fatalf("b publishes while a leads: %+v, %v", st, err)
	}
	if st, err := a.pub.Publish(ctx, names(2)); err != nil || st.Puts != 6 {
		t.Fatalf("a publishes: %+v, %v; want 6 puts", st, err)
	}
	staleTerm, _ := a.el.Leader()
	start := time.Now()
	a.stop()
	waitElected(t, b, 5*time.Second)
	t.Logf("b took over %v after a stopped", time.Since(start).Round(time.Millisecond))
	if time.Since(start) > time.Second {
		t.Errorf("takeover after a resign took %v, want well under the 2 s TTL", time.Since(start))
	}
	// a's old term no longer holds in etcd.
	err := taskzone.EtcdStore{Store: s}.Txn(ctx, &staleTerm, []cluster.KV{{Key: cluster.TaskNamesPrefix + "x.", Value: []byte(`[]`)}}, nil)
	if !errors.Is(err, taskzone.ErrNotLeader) {
		t.Errorf("txn fenced on a's ended term: %v, want ErrNotLeader", err)
	}
	// b's first publish of its term compares with etcd: task 1's names go.
	if st, err := b.pub.Publish(ctx, names(1)); err != nil || st.Deletes != 3 {
		t.Fatalf("b publishes: %+v, %v; want a's 3 extra names deleted", st, err)
	}
}

// TestElectorKeyDeleted: deleting the publisher's election key by hand ends
// its term; it campaigns again and, alone, leads again in a new term.
func TestElectorKeyDeleted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	a := startMaster(t, s, "a")
	waitElected(t, a, 10*time.Second)
	first, _ := a.el.Leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Client.Delete(ctx, first.Key); err != nil {
		t.Fatal(err)
	}
	waitElected(t, a, 10*time.Second)
	second, ok := a.el.Leader()
	if !ok || second == first {
		t.Fatalf("after the key was deleted: term %+v (leading %t), first term %+v; want a new term", second, ok, first)
	}
	// The fence of the new term works.
	if err := (taskzone.EtcdStore{Store: s}).Txn(ctx, &second, []cluster.KV{{Key: cluster.TaskNamesPrefix + "y.", Value: []byte(`[]`)}}, nil); err != nil {
		t.Errorf("txn fenced on the new term: %v", err)
	}
}

// TestElectorLeaseExpiry: a publisher that stops talking to etcd without
// resigning (its client gone, as when its process is killed or cut off)
// is replaced once its lease runs out, and stops counting itself leader.
func TestElectorLeaseExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	own, err := cluster.Connect(cluster.Options{Endpoints: s.Client.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	a := startMaster(t, own, "a")
	waitElected(t, a, 10*time.Second)
	b := startMaster(t, s, "b")
	time.Sleep(300 * time.Millisecond)
	if b.leading() {
		t.Fatal("b leads while a holds the role")
	}
	start := time.Now()
	own.Close()                       // a's keepalives stop; its lease (TTL 2 s) runs out
	waitElected(t, b, 10*time.Second) // TTL plus etcd's lease checks
	t.Logf("b took over %v after a lost etcd", time.Since(start).Round(time.Millisecond))
	for deadline := time.Now().Add(5 * time.Second); a.leading(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a still counts itself the publisher 5 s after b took over")
		}
	}
}

// TestElectorStopsWithEtcdGone: with etcd gone, both the publisher and a
// master waiting behind it stop promptly when their context ends (the
// etcd library's own campaign waits on etcd without a deadline when
// cancelled, which held up dcnet-dns's shutdown).
func TestElectorStopsWithEtcdGone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s, stopEtcd := etcdtest.StoreStoppable(t)
	a := startMaster(t, s, "a")
	waitElected(t, a, 10*time.Second)
	b := startMaster(t, s, "b")
	time.Sleep(300 * time.Millisecond) // b waits behind a
	t0 := time.Now()
	stopEtcd()
	t.Logf("etcd stopped in %v", time.Since(t0).Round(time.Millisecond))
	for _, m := range []*master{b, a} {
		start := time.Now()
		m.stop()
		if took := time.Since(start); took > 4*time.Second {
			t.Errorf("%s stopped %v after its context ended with etcd gone, want within the 2 s revoke bound", m.el.ID, took)
		} else {
			t.Logf("%s stopped in %v", m.el.ID, took.Round(time.Millisecond))
		}
	}
}

// TestElectorAfterCompaction: a master that waited behind the publisher
// while etcd compacted past its own key's creation keeps the role once it
// gets it (its watch starts from a recent revision, not from the key's).
func TestElectorAfterCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	ctx := context.Background()
	a := startMaster(t, s, "a")
	waitElected(t, a, 10*time.Second)
	b := startMaster(t, s, "b")
	time.Sleep(300 * time.Millisecond) // b's key exists, b waits
	var last int64
	for i := range 20 {
		r, err := s.Client.Put(ctx, "/bump", fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		last = r.Header.Revision
	}
	if _, err := s.Client.Compact(ctx, last); err != nil {
		t.Fatal(err)
	}
	a.stop()
	waitElected(t, b, 5*time.Second)
	time.Sleep(time.Second)
	if !b.leading() {
		t.Fatal("b lost the role it just got")
	}
	select {
	case <-b.elected:
		t.Error("b was elected a second time: its first term ended")
	default:
	}
}
