package poll

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcnet/dcnet/dns/mesos"
)

// master is a fake Mesos master: it answers /master/state with a state
// naming itself (pid) and leader, with one framework called fw.
type master struct {
	srv    *httptest.Server
	mu     sync.Mutex
	leader string // PID of the leader; "" no leader; "self" this master
	fw     string
	body   string // when set, answered instead of the state
	hits   atomic.Int32
}

func newMaster(t *testing.T, fw string) *master {
	t.Helper()
	m := &master{fw: fw, leader: "self"}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		if r.URL.Path != StatePath {
			http.NotFound(w, r)
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.body != "" {
			fmt.Fprint(w, m.body)
			return
		}
		leader := m.leader
		if leader == "self" {
			leader = m.pid()
		}
		fmt.Fprintf(w, `{"pid":%q,"leader":%q,"frameworks":[{"id":"f1","name":%q}],"slaves":[]}`, m.pid(), leader, m.fw)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *master) pid() string { return "master@" + strings.TrimPrefix(m.srv.URL, "http://") }

func (m *master) set(leader, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leader, m.body = leader, body
}

func framework(st mesos.State) string {
	if len(st.Frameworks) != 1 {
		return fmt.Sprintf("%d frameworks", len(st.Frameworks))
	}
	return st.Frameworks[0].Name
}

func TestHTTPFetcher(t *testing.T) {
	ctx := context.Background()
	a, b := newMaster(t, "from-a"), newMaster(t, "from-b")
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	for _, tc := range []struct {
		name     string
		masters  []string
		setup    func()
		wantFW   string
		wantFrom string
		wantErr  string
	}{
		{name: "leader answers", masters: []string{a.srv.URL, b.srv.URL}, setup: func() { a.set("self", ""); b.set("self", "") },
			wantFW: "from-a", wantFrom: a.srv.URL},
		{name: "follower redirects to leader", masters: []string{a.srv.URL}, setup: func() { a.set(b.pid(), ""); b.set("self", "") },
			wantFW: "from-b", wantFrom: b.srv.URL},
		{name: "bare host:port", masters: []string{strings.TrimPrefix(b.srv.URL, "http://")}, setup: func() { b.set("self", "") },
			wantFW: "from-b", wantFrom: b.srv.URL},
		{name: "first master dead", masters: []string{deadURL, a.srv.URL}, setup: func() { a.set("self", "") },
			wantFW: "from-a", wantFrom: a.srv.URL},
		{name: "garbage from first, second answers", masters: []string{a.srv.URL, b.srv.URL}, setup: func() { a.set("self", "{not json"); b.set("self", "") },
			wantFW: "from-b", wantFrom: b.srv.URL},
		{name: "no leader elected", masters: []string{a.srv.URL}, setup: func() { a.set("", "") },
			wantErr: "no leader elected"},
		{name: "leader dead", masters: []string{a.srv.URL}, setup: func() { a.set("master@"+strings.TrimPrefix(deadURL, "http://"), "") },
			wantErr: "names leader"},
		{name: "all dead", masters: []string{deadURL}, wantErr: "no mesos master answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			f, err := NewHTTPFetcher(tc.masters, time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, from, err := f.Fetch(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := framework(st); got != tc.wantFW || from != tc.wantFrom {
				t.Errorf("got %s from %s, want %s from %s", got, from, tc.wantFW, tc.wantFrom)
			}
		})
	}
}

// TestHTTPFetcherPrefersLastLeader: once the leader answered through a
// follower, the next fetch asks the leader directly.
func TestHTTPFetcherPrefersLastLeader(t *testing.T) {
	a, b := newMaster(t, "from-a"), newMaster(t, "from-b")
	a.set(b.pid(), "")
	f, err := NewHTTPFetcher([]string{a.srv.URL}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := f.Fetch(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.hits.Load(); got != 1 {
		t.Errorf("follower asked %d times, want 1 (the second fetch goes to the leader)", got)
	}
}

func TestHTTPFetcherTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	good := newMaster(t, "good")
	f, err := NewHTTPFetcher([]string{slow.URL, good.srv.URL}, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st, _, err := f.Fetch(context.Background())
	if err != nil || framework(st) != "good" {
		t.Fatalf("got %s, %v; want the good master's state", framework(st), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("fetch took %v: the slow master was not cut at its timeout", d)
	}
}

func TestParseMasterURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "10.0.0.1:5050", want: "http://10.0.0.1:5050"},
		{in: "https://m1.example:5050/", want: "https://m1.example:5050"},
		{in: "ftp://10.0.0.1", err: "scheme"},
		{in: "http://", err: "no host"},
	} {
		u, err := ParseMasterURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.in, u, err, tc.want)
		}
	}
	if _, err := NewHTTPFetcher(nil, 0, nil); err == nil {
		t.Error("no masters accepted")
	}
}

// TestPollerKeepsLastGoodState: a master that starts answering garbage,
// then dies, does not replace the last good state.
func TestPollerKeepsLastGoodState(t *testing.T) {
	m := newMaster(t, "good")
	f, err := NewHTTPFetcher([]string{m.srv.URL}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	p := &Poller{Fetcher: f, OnState: func(st mesos.State, _ string) { got = append(got, framework(st)) }}
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	m.set("self", `{"frameworks": [garbage`)
	if err := p.Poll(ctx); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Fatalf("garbage: err %v, want invalid JSON", err)
	}
	m.srv.Close()
	if err := p.Poll(ctx); err == nil {
		t.Fatal("dead master: no error")
	}
	if strings.Join(got, ",") != "good" {
		t.Errorf("OnState got %v, want only the good state", got)
	}
	from, _, ok := p.Last()
	if !ok || from != m.srv.URL {
		t.Errorf("Last = from %s (ok %t), want from %s", from, ok, m.srv.URL)
	}
	if p.Err() == nil {
		t.Error("Err is nil after a failed poll")
	}
}

func TestPollerRunBacksOff(t *testing.T) {
	f := &FakeFetcher{}
	f.Push(FakeAnswer{State: mesos.State{Frameworks: []mesos.Framework{{Name: "one"}}}}, FakeAnswer{Err: errors.New("down")})
	states := make(chan string, 10)
	p := &Poller{Fetcher: f, Interval: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		OnState: func(st mesos.State, _ string) { states <- framework(st) }}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	select {
	case s := <-states:
		if s != "one" {
			t.Fatalf("first state %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no state within 5s")
	}
	<-done
	// 500ms of failures: at 10ms intervals without backoff ~50 calls; with
	// backoff to 40ms at most ~15.
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if calls < 3 || calls > 20 {
		t.Errorf("%d fetches in 500ms, want between 3 and 20 (backoff to 40ms)", calls)
	}
	if len(states) != 0 {
		t.Errorf("failed fetches reached OnState")
	}
}

func TestFileFetcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := FileFetcher{Path: path}
	if _, _, err := f.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
	write(`{"leader":"master@10.0.0.1:5050","frameworks":[{"name":"one"}]}`)
	st, _, err := f.Fetch(context.Background())
	if err != nil || framework(st) != "one" {
		t.Fatalf("got %s %v", framework(st), err)
	}
	write(`{"leader":"master@10.0.0.1:5050","frameworks":[{"name":"two"}]}`)
	if st, _, err = f.Fetch(context.Background()); err != nil || framework(st) != "two" {
		t.Fatalf("changed file: got %s %v", framework(st), err)
	}
	write(`{`)
	if _, _, err = f.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("bad file: err %v, want it to name %s", err, path)
	}
}

// TestPollerSkipsUnchanged: a document whose bytes did not change is not
// parsed nor handed to OnState (OnUnchanged instead), from a master and
// from a file; a change is handed on again.
func TestPollerSkipsUnchanged(t *testing.T) {
	m := newMaster(t, "one")
	hf, err := NewHTTPFetcher([]string{m.srv.URL}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	write := func(fw string) {
		b := fmt.Sprintf(`{"pid":"master@10.0.0.1:5050","leader":"master@10.0.0.1:5050","frameworks":[{"id":"f1","name":%q}]}`, fw)
		if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	for name, tc := range map[string]struct {
		f      Fetcher
		change func()
	}{
		"http": {hf, func() { m.mu.Lock(); m.fw = "two"; m.mu.Unlock() }},
		"file": {FileFetcher{Path: path}, func() { write("two") }},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			unchanged := 0
			p := &Poller{Fetcher: tc.f, OnState: func(st mesos.State, _ string) { got = append(got, framework(st)) },
				OnUnchanged: func() { unchanged++ }}
			for i := range 4 {
				if i == 2 {
					tc.change()
				}
				if err := p.Poll(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Join(got, ",") != "one,two" || unchanged != 2 {
				t.Errorf("OnState got %v, OnUnchanged %d times; want one,two and 2", got, unchanged)
			}
		})
	}
}
