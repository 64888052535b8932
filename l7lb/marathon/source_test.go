package marathon

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/eventually"
	"github.com/dcnet/dcnet/internal/marathontest"
)

type harness struct {
	src     *Source
	changes atomic.Int64
}

func run(t *testing.T, opts Options, urls ...string) *harness {
	t.Helper()
	c, err := NewClient(urls, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{}
	opts.Client = c
	opts.OnChange = func() { h.changes.Add(1) }
	h.src = NewSource(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// tasks renders an app's tasks as "id state" lines, sorted.
func (h *harness) tasks(id string) string {
	for _, a := range h.src.Apps() {
		if a.ID != id {
			continue
		}
		var out []string
		for _, t := range a.Tasks {
			out = append(out, fmt.Sprintf("%s %s %s %v", t.ID, t.State, TaskIP(&a, &t), TaskPorts(&a, &t)))
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	return "(no app)"
}

func (h *harness) count(id string) int {
	s := h.tasks(id)
	if s == "" || s == "(no app)" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}

// TestSourceEventsWithoutRelist: after the first full read, scaling,
// killing and deleting reach the source through events alone.
func TestSourceEventsWithoutRelist(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 1})
	h := run(t, Options{Resync: time.Hour}, m.URL)
	eventually.True(t, 5*time.Second, "first read", h.src.Synced)
	eventually.True(t, 5*time.Second, "stream", func() bool { return m.Streams() == 1 })
	eventually.True(t, 5*time.Second, "relist after the stream attached", func() bool { return m.Requests("apps") >= 2 })
	lists := m.Requests("apps")

	m.Scale("/web", 3, 300*time.Millisecond)
	eventually.True(t, 5*time.Second, "3 tasks", func() bool { return h.count("/web") == 3 })
	m.Scale("/web", 1, 300*time.Millisecond)
	eventually.True(t, 5*time.Second, "killing tasks", func() bool { return strings.Count(h.tasks("/web"), "TASK_KILLING") == 2 })
	eventually.True(t, 5*time.Second, "killed tasks gone", func() bool { return h.count("/web") == 1 })

	m.PutApp(marathontest.AppSpec{ID: "/api", Mode: marathontest.Container, ContainerPorts: []int{8080}, Instances: 2})
	eventually.True(t, 5*time.Second, "new app", func() bool { return h.count("/api") == 2 })
	if got := h.tasks("/api"); !strings.Contains(got, "9.0.") || !strings.Contains(got, "[8080]") {
		t.Errorf("container tasks should be reached on their IP and container port:\n%s", got)
	}
	m.DeleteApp("/api")
	eventually.True(t, 5*time.Second, "deleted app", func() bool { return h.tasks("/api") == "(no app)" })
	if n := m.Requests("apps"); n != lists {
		t.Errorf("%d full reads after the first ones, want 0: events should have sufficed", n-lists)
	}
	if h.src.Status().Errors != 0 {
		t.Errorf("errors: %+v", h.src.Status())
	}
}

// TestSourceGarbageAnswerKeepsLastApps: an unparseable answer is
// detected, counted and logged; the last good apps stay, and a later
// good answer is taken.
func TestSourceGarbageAnswerKeepsLastApps(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 2})
	h := run(t, Options{Resync: 100 * time.Millisecond}, m.URL)
	eventually.True(t, 5*time.Second, "first read", func() bool { return h.count("/web") == 2 })
	m.SetMode(marathontest.Garbage)
	eventually.True(t, 5*time.Second, "list errors", func() bool { return h.src.Errors()[errList] >= 2 })
	if h.count("/web") != 2 {
		t.Errorf("last good apps lost: %s", h.tasks("/web"))
	}
	if st := h.src.Status(); !strings.Contains(st.LastError, "not JSON") && !strings.Contains(st.LastError, "invalid character") {
		t.Errorf("last error %q does not say the answer is garbage", st.LastError)
	}
	m.SetMode(marathontest.Normal)
	last := h.src.Status().LastSync
	eventually.True(t, 5*time.Second, "recovery", func() bool { return h.src.Status().LastSync.After(last) })
}

// TestSourceFailover: a Marathon that accepts and never answers (first
// an HTTP server that stalls, then a bare TCP listener) is left after
// the request timeout for the next one, which is then preferred.
func TestSourceFailover(t *testing.T) {
	stalled := marathontest.ForTest(t)
	stalled.SetMode(marathontest.Stall)
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never read, never answered
		}
	}()
	good := marathontest.ForTest(t)
	good.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 1})
	start := time.Now()
	h := run(t, Options{Resync: time.Hour}, stalled.URL, "http://"+hung.Addr().String(), good.URL)
	eventually.True(t, 5*time.Second, "apps from the third Marathon", func() bool { return h.count("/web") == 1 })
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("failover took %v; two request timeouts of 500 ms expected", d)
	}
	if got := h.src.opts.Client.URLs()[0]; got != good.URL {
		t.Errorf("preferred Marathon %s, want %s", got, good.URL)
	}
	if !strings.Contains(h.src.Status().Detail, good.URL) {
		t.Errorf("detail %q does not name %s", h.src.Status().Detail, good.URL)
	}
}

// TestSourceStreamIdleReconnects: a stream that goes silent is
// reconnected after the idle timeout and followed by a full read.
func TestSourceStreamIdleReconnects(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 1})
	h := run(t, Options{Resync: time.Hour, Idle: 300 * time.Millisecond}, m.URL)
	eventually.True(t, 5*time.Second, "stream", func() bool { return m.Requests("events") == 1 && m.Requests("apps") >= 2 })
	lists := m.Requests("apps")
	m.SilenceStreams(true)
	eventually.True(t, 5*time.Second, "idle detected", func() bool { return h.src.Errors()["stream_idle"] >= 1 })
	m.SilenceStreams(false)
	eventually.True(t, 5*time.Second, "reconnect", func() bool { return m.Requests("events") >= 2 })
	eventually.True(t, 5*time.Second, "full read after reconnect", func() bool { return m.Requests("apps") > lists })
	// The new stream carries changes again.
	m.Scale("/web", 2, 0)
	eventually.True(t, 5*time.Second, "scaled through the new stream", func() bool { return h.count("/web") == 2 })
}

// TestSourceStreamGarbageReconnects: a garbled event ends the stream
// (counted), the source reconnects and re-reads everything, since it
// may have missed a change.
func TestSourceStreamGarbageReconnects(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 1})
	h := run(t, Options{Resync: time.Hour}, m.URL)
	eventually.True(t, 5*time.Second, "stream", func() bool { return m.Streams() == 1 && m.Requests("apps") >= 2 })
	lists := m.Requests("apps")
	m.SendGarbage()
	eventually.True(t, 5*time.Second, "garbage detected", func() bool { return h.src.Errors()["stream_garbage"] == 1 })
	eventually.True(t, 5*time.Second, "reconnect and re-read", func() bool { return m.Requests("events") >= 2 && m.Requests("apps") > lists })
	if h.count("/web") != 1 {
		t.Errorf("apps lost: %s", h.tasks("/web"))
	}
}

// TestSourceFreshness: while the stream is live, heartbeats keep
// LastSync current without full reads; when the stream dies and every
// read fails, LastSync stops.
func TestSourceFreshness(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 1})
	h := run(t, Options{Resync: time.Hour, Idle: 500 * time.Millisecond}, m.URL)
	eventually.True(t, 5*time.Second, "stream", func() bool { return m.Streams() == 1 && m.Requests("apps") >= 2 })
	first := h.src.Status().LastSync
	eventually.True(t, 5*time.Second, "heartbeats advance LastSync", func() bool { return h.src.Status().LastSync.Sub(first) > 100*time.Millisecond })
	m.SetMode(marathontest.Stall)
	m.SilenceStreams(true)
	eventually.True(t, 5*time.Second, "idle", func() bool { return h.src.Errors()["stream_idle"] >= 1 })
	stale := h.src.Status().LastSync
	time.Sleep(400 * time.Millisecond)
	if got := h.src.Status().LastSync; !got.Equal(stale) {
		t.Errorf("LastSync moved from %v to %v while Marathon was down", stale, got)
	}
}

// TestApplyBatchOneNotification: a burst of events applied in one batch
// notifies once.
func TestApplyBatchOneNotification(t *testing.T) {
	h := &harness{}
	h.src = NewSource(Options{OnChange: func() { h.changes.Add(1) }})
	h.src.apps["/web"] = App{ID: "/web", PortDefinitions: []PortDefinition{{Port: 10000}}}
	var batch []streamMsg
	for i := range 100 {
		batch = append(batch, streamMsg{at: 1, event: Event{EventType: EventStatusUpdate, AppID: "/web",
			TaskID: fmt.Sprintf("web.%d", i), TaskStatus: "TASK_RUNNING", Host: "10.0.0.1", Ports: []int{31000 + i}}})
	}
	if h.src.apply(context.Background(), batch) {
		t.Error("a full read was asked for")
	}
	if n := h.changes.Load(); n != 1 {
		t.Errorf("%d notifications, want 1", n)
	}
	if n := h.count("/web"); n != 100 {
		t.Errorf("%d tasks, want 100", n)
	}
	// Events that arrived before the last full read began are in it.
	h.src.lastList.Store(2)
	if h.src.apply(context.Background(), []streamMsg{{at: 1, event: Event{EventType: EventAppTerminated, AppID: "/web"}}}) || h.count("/web") != 100 {
		t.Error("an event older than the last full read was applied")
	}
}
