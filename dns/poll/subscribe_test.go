package poll

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcnet/dcnet/dns/mesos"
)

// frame is one RecordIO record.
func frame(json string) string { return fmt.Sprintf("%d\n%s", len(json), json) }

func TestReadEvent(t *testing.T) {
	big := `{"type":"SUBSCRIBED","subscribed":{"get_state":{"x":"` + strings.Repeat("a", 1<<20) + `"}}}`
	stream := frame(`{"type":"TASK_ADDED","task_added":{"task":{"name":"web"}}}`) + frame(`{"type":"HEARTBEAT"}`) +
		frame(big) + frame(`{"task_added":{},"type":"TASK_ADDED"}`) + frame(`[1,2]`)
	r := bufio.NewReader(strings.NewReader(stream))
	for _, want := range []string{"TASK_ADDED", "HEARTBEAT", "SUBSCRIBED", "", ""} {
		got, err := readEvent(r)
		if err != nil || got != want {
			t.Fatalf("readEvent = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readEvent(r); err != io.EOF {
		t.Errorf("at the end: %v, want EOF", err)
	}
	for in, want := range map[string]string{
		"abc\n{}":                   "bad frame length",
		"12\n{\"type\":\"X\"}34":    io.ErrUnexpectedEOF.Error(), // cut in the next length
		"-1\n":                      "bad frame length",
		"99999999999\n":             "bad frame length",
		"20\n{\"type\":\"TASK_":     io.ErrUnexpectedEOF.Error(),
		strings.Repeat("7", 5000):   "length line too long",
		"12\n{\"type\":\"X\"}xyz\n": "bad frame length", // the next frame's length is garbage
	} {
		r := bufio.NewReaderSize(strings.NewReader(in), 4096)
		var err error
		for i := 0; i < 3 && err == nil; i++ {
			_, err = readEvent(r)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readEvent(%.30q): %v, want an error with %q", in, err, want)
		}
	}
}

// eventMaster is a fake leading master's /api/v1: each SUBSCRIBE gets the
// frames of script in turn, then the stream stays open (hold) or ends.
type eventMaster struct {
	script [][]string // per subscription; the last repeats
	hold   bool
	subs   atomic.Int32
	bad    atomic.Value // string: what was wrong with a request
	done   chan struct{}
}

func (m *eventMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1" || string(body) != `{"type":"SUBSCRIBE"}` ||
		r.Header.Get("Content-Type") != "application/json" {
		m.bad.Store(fmt.Sprintf("%s %s %q content-type %q", r.Method, r.URL.Path, body, r.Header.Get("Content-Type")))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	n := int(m.subs.Add(1)) - 1
	frames := m.script[min(n, len(m.script)-1)]
	w.Header().Set("Content-Type", "application/json")
	for _, f := range frames {
		io.WriteString(w, frame(f))
		w.(http.Flusher).Flush()
	}
	if m.hold {
		select {
		case <-r.Context().Done():
		case <-m.done:
		}
	}
}

type recorder struct {
	mu    sync.Mutex
	types []string
}

func (r *recorder) add(typ string) { r.mu.Lock(); r.types = append(r.types, typ); r.mu.Unlock() }
func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.types...)
}

func waitUntil(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
	}
}

func startSubscriber(t *testing.T, s *Subscriber) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestSubscriberFollowsLeader: the first master is not the leader and
// redirects (307, as Mesos does) to the leader, whose events reach
// OnEvent, heartbeats excepted.
func TestSubscriberFollowsLeader(t *testing.T) {
	lm := &eventMaster{hold: true, done: make(chan struct{}), script: [][]string{{
		`{"type":"SUBSCRIBED","subscribed":{"get_state":{}}}`, `{"type":"HEARTBEAT"}`, `{"type":"TASK_ADDED","task_added":{}}`,
		`{"type":"HEARTBEAT"}`, `{"type":"TASK_UPDATED","task_updated":{}}`}}}
	leader := httptest.NewServer(lm)
	defer leader.Close()
	defer close(lm.done)
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+strings.TrimPrefix(leader.URL, "http://")+"/api/v1")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer standby.Close()
	f, err := NewHTTPFetcher([]string{standby.URL, leader.URL}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	startSubscriber(t, &Subscriber{Fetcher: f, OnEvent: rec.add})
	want := []string{"SUBSCRIBED", "TASK_ADDED", "TASK_UPDATED"}
	waitUntil(t, "three events", 5*time.Second, func() bool { return len(rec.get()) >= 3 })
	if got := rec.get(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %q, want %q", got, want)
	}
	if bad, _ := lm.bad.Load().(string); bad != "" {
		t.Errorf("the leader got a bad request: %s", bad)
	}
	if n := lm.subs.Load(); n != 1 {
		t.Errorf("%d subscriptions at the leader, want 1 (the stream stays open)", n)
	}
}

// TestSubscriberReconnects: a stream that ends, and one that goes quiet
// for longer than Idle, are subscribed again; each new stream's
// SUBSCRIBED reaches OnEvent (the state may have changed meanwhile).
func TestSubscriberReconnects(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold bool
	}{{"stream ends", false}, {"stream idle", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := &eventMaster{hold: tc.hold, done: make(chan struct{}), script: [][]string{{`{"type":"SUBSCRIBED"}`}}}
			srv := httptest.NewServer(m)
			defer srv.Close()
			defer close(m.done)
			f, err := NewHTTPFetcher([]string{srv.URL}, time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			startSubscriber(t, &Subscriber{Fetcher: f, OnEvent: rec.add, Idle: 100 * time.Millisecond})
			waitUntil(t, "a second subscription", 5*time.Second, func() bool { return m.subs.Load() >= 2 && len(rec.get()) >= 2 })
		})
	}
}

// TestSubscriberBadMaster: a master that refuses SUBSCRIBE (404: an old
// Mesos) or sends garbage is retried with backoff, without events.
func TestSubscriberBadMaster(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%2 == 1 {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "garbage\n")
	}))
	defer srv.Close()
	f, err := NewHTTPFetcher([]string{srv.URL}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	startSubscriber(t, &Subscriber{Fetcher: f, OnEvent: rec.add})
	waitUntil(t, "a retry", 5*time.Second, func() bool { return hits.Load() >= 2 })
	if got := rec.get(); len(got) != 0 {
		t.Errorf("events from a bad master: %q", got)
	}
}

// countingFetcher counts fetches; each takes delay and records its start.
type countingFetcher struct {
	n      atomic.Int32
	delay  time.Duration
	mu     sync.Mutex
	starts []time.Time
}

func (c *countingFetcher) Fetch(context.Context) (mesos.State, string, error) {
	c.n.Add(1)
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	time.Sleep(c.delay)
	return mesos.State{Leader: "master@10.0.0.1:5050"}, "counting", nil
}

// TestPollerKickSlowPolls: with polls slower than MinGap, kicked polls
// start at least one poll's duration apart, so a stream of events keeps
// the poller at most half busy.
func TestPollerKickSlowPolls(t *testing.T) {
	f := countingFetcher{delay: 200 * time.Millisecond}
	p := &Poller{Fetcher: &f, Interval: time.Hour, MinGap: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.RunAfter(ctx, time.Hour) }()
	stop := make(chan struct{})
	go func() { // an event every 5 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				p.Kick()
			}
		}
	}()
	waitUntil(t, "four polls", 5*time.Second, func() bool { return f.n.Load() >= 4 })
	close(stop)
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i < len(f.starts); i++ {
		if gap := f.starts[i].Sub(f.starts[i-1]); gap < 380*time.Millisecond {
			t.Errorf("poll %d started %v after the previous one, want at least twice a poll's 200ms", i, gap)
		}
	}
}

// TestPollerKick: a Kick polls at once instead of after the interval; a
// burst of kicks costs at most two polls; polls asked by kicks keep MinGap
// between their starts.
func TestPollerKick(t *testing.T) {
	var f countingFetcher
	p := &Poller{Fetcher: &f, Interval: time.Hour, MinGap: 150 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.RunAfter(ctx, time.Hour) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond)
	if n := f.n.Load(); n != 0 {
		t.Fatalf("%d polls before any kick, want 0 (first poll after an hour)", n)
	}
	start := time.Now()
	p.Kick()
	waitUntil(t, "the kicked poll", 2*time.Second, func() bool { return f.n.Load() == 1 })
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("kicked poll after %v, want at once", took)
	}
	start = time.Now()
	for range 20 {
		p.Kick()
	}
	waitUntil(t, "the burst's poll", 2*time.Second, func() bool { return f.n.Load() >= 2 })
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("poll %v after the previous one's start, want at least MinGap (150ms)", took)
	}
	time.Sleep(400 * time.Millisecond)
	if n := f.n.Load(); n > 3 {
		t.Errorf("%d polls after one kick and a burst of 20, want at most 3", n)
	}
}
