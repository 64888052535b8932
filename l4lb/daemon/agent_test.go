package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/fixtures"
	"github.com/dcnet/dcnet/l4lb/mesos"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/google/go-cmp/cmp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cmpAddr lets cmp compare netip.Addr values.
var cmpAddr = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })}

// fakeAgent is an httptest Mesos agent answering GET_STATE with a fixture
// (or a failure status) that the test can switch.
type fakeAgent struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	calls  atomic.Int64
}

func newFakeAgent(t *testing.T, fixture string) *fakeAgent {
	t.Helper()
	a := &fakeAgent{status: http.StatusOK}
	a.set(t, fixture)
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1" || !strings.Contains(string(b), `"GET_STATE"`) ||
			r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.status != http.StatusOK {
			http.Error(w, "agent failing", a.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.body)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *fakeAgent) set(t *testing.T, fixture string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures.Dir(t, "mesos", "operator-api"), fixture))
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.body, a.status = b, http.StatusOK
	a.mu.Unlock()
}

func (a *fakeAgent) fail(status int) {
	a.mu.Lock()
	a.status = status
	a.mu.Unlock()
}

// fixtureBindings is what package mesos extracts from a fixture, with the
// node set as the agent source sets it.
func fixtureBindings(t *testing.T, fixture, node string, agentIP netip.Addr) []vip.Binding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures.Dir(t, "mesos", "operator-api"), fixture))
	if err != nil {
		t.Fatal(err)
	}
	st, err := mesos.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := mesos.Backends(st, agentIP, nil)
	for i := range bs {
		bs[i].Backend.Node = node
	}
	return bs
}

func TestAgentSourcePollKeepsLastGoodState(t *testing.T) {
	agent := newFakeAgent(t, "tcp-and-udp.json")
	src, err := newAgentSource(AgentOptions{Agent: agent.URL}, "a1", quiet)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	src.onChange = func() { changes++ }
	ctx := context.Background()
	if _, ok := src.Bindings(); ok {
		t.Fatal("bindings before the first poll")
	}
	if _, err := src.records(); err == nil {
		t.Error("records before the first poll: want an error so nothing is published")
	}
	if err := src.poll(ctx); err != nil {
		t.Fatalf("poll: %v", err)
	}
	want := fixtureBindings(t, "tcp-and-udp.json", "a1", netip.MustParseAddr("127.0.0.1"))
	if len(want) != 2 {
		t.Fatalf("fixture gives %d bindings, want 2", len(want))
	}
	got, _ := src.Bindings()
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	select {
	case <-src.ready:
	default:
		t.Error("ready not closed after a successful poll")
	}
	if err := src.poll(ctx); err != nil || changes != 1 {
		t.Errorf("second identical poll: err %v, %d change calls, want 1", err, changes)
	}

	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError} {
		agent.fail(status)
		if err := src.poll(ctx); err == nil || !strings.Contains(err.Error(), "GET_STATE") {
			t.Errorf("poll of a failing agent (%d): %v, want a GET_STATE error", status, err)
		}
		if got, ok := src.Bindings(); !ok || !cmp.Equal(want, got, cmpAddr) {
			t.Errorf("after a failed poll the last state must stay: %v %v", ok, got)
		}
	}
	agent.Close()
	if err := src.poll(ctx); err == nil {
		t.Error("poll of a closed agent: no error")
	}
	if got, _ := src.Bindings(); !cmp.Equal(want, got, cmpAddr) || changes != 1 {
		t.Errorf("after the agent went away: %d changes, %v", changes, got)
	}
}

func TestAgentSourceTaskKillingDrains(t *testing.T) {
	agent := newFakeAgent(t, "tcp-and-udp.json")
	src, err := newAgentSource(AgentOptions{Agent: agent.URL + "/"}, "a1", quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The same state with the task terminating.
	agent.mu.Lock()
	agent.body = []byte(strings.ReplaceAll(string(agent.body), `"TASK_RUNNING"`, `"TASK_KILLING"`))
	agent.mu.Unlock()
	if err := src.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, _ := src.Bindings()
	if len(bs) == 0 {
		t.Fatal("no bindings for a TASK_KILLING task")
	}
	for _, b := range bs {
		if !b.Backend.Draining {
			t.Errorf("%s: want draining", b)
		}
	}
}

func TestAgentSourceURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ip       string
		ok       bool
	}{
		{"http://198.18.0.1:5051", "http://198.18.0.1:5051/api/v1", "198.18.0.1", true},
		{"https://agent.example:5051/", "https://agent.example:5051/api/v1", "", true},
		{"http://[fd01::1]:5051/api/v1", "http://[fd01::1]:5051/api/v1", "fd01::1", true},
		{"198.18.0.1:5051", "", "", false},
		{"ftp://x", "", "", false},
		{"", "", "", false},
	} {
		src, err := newAgentSource(AgentOptions{Agent: tc.in}, "a1", quiet)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok %t", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			continue
		}
		ip := ""
		if src.agentIP.IsValid() {
			ip = src.agentIP.String()
		}
		if src.url != tc.want || ip != tc.ip {
			t.Errorf("%q: url %q ip %q, want %q %q", tc.in, src.url, ip, tc.want, tc.ip)
		}
	}
}

func TestMesosRecordsRoundTrip(t *testing.T) {
	var bs []vip.Binding
	for _, f := range []string{"tcp-and-udp.json", "unhealthy.json", "vip-labels.json"} {
		bs = append(bs, fixtureBindings(t, f, "a1", netip.MustParseAddr("10.9.9.9"))...)
	}
	if len(bs) < 4 {
		t.Fatalf("only %d bindings in the fixtures", len(bs))
	}
	bs[0].Backend.Draining = true
	recs := encodeMesosRecords("a1", bs)
	var kvs []cluster.KV
	for k, v := range recs {
		if !strings.HasPrefix(k, cluster.MesosBackendsPrefix+"a1/") || strings.Count(strings.TrimPrefix(k, cluster.MesosBackendsPrefix+"a1/"), "/") != 0 {
			t.Errorf("record key %q: want one escaped segment under %sa1/", k, cluster.MesosBackendsPrefix)
		}
		kvs = append(kvs, cluster.KV{Key: k, Value: v})
	}
	kvs = append(kvs, cluster.KV{Key: cluster.MesosBackendsPrefix + "a2/bad", Value: []byte("{")})
	got := vip.Normalize(parseMesosRecords(kvs, quiet))
	if diff := cmp.Diff(vip.Normalize(bs), got, cmpAddr); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
