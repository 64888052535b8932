package mesos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/eventually"
	"github.com/dcnet/dcnet/internal/fixtures"
	"github.com/dcnet/dcnet/internal/mesostest"
	mstate "github.com/dcnet/dcnet/l4lb/mesos"
)

func master(t *testing.T) *mesostest.Master {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := mesostest.Serve(ln, nil)
	m.Heartbeat = 50 * time.Millisecond
	t.Cleanup(func() { m.Close() })
	return m
}

func start(t *testing.T, opts Options) *Source {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// streamLines reads a fixture: one operator API event per line.
func streamLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, string(line))
		}
	}
	return out
}

// TestSourceRealStreams: the recorded dcos-net streams, served by the
// fake master (the SUBSCRIBED state, then the events), give the tasks
// l4lb/mesos's Replay gives for the same stream.
func TestSourceRealStreams(t *testing.T) {
	dir := fixtures.Dir(t, "mesos", "operator-api")
	for _, name := range []string{"hello-world.json", "hello-overlay.json", "operator-api.json"} {
		t.Run(name, func(t *testing.T) {
			lines := streamLines(t, filepath.Join(dir, name))
			var first struct {
				Subscribed struct {
					GetState json.RawMessage `json:"get_state"`
				} `json:"subscribed"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
				t.Fatal(err)
			}
			m := master(t)
			m.SetOperatorState(first.Subscribed.GetState)
			s := start(t, Options{Masters: []string{m.URL}})
			eventually.True(t, 5*time.Second, "subscribed", s.Synced)
			m.Send(lines[1:]...)
			want, err := mstate.Replay(bytes.NewReader([]byte(joinLines(lines))))
			if err != nil {
				t.Fatal(err)
			}
			wantTasks, _ := mstate.Summaries(want, netipZero)
			eventually.True(t, 5*time.Second, "every event applied", func() bool {
				return reflect.DeepEqual(wantTasks, s.Tasks())
			})
		})
	}
}

func joinLines(ls []string) string {
	var b bytes.Buffer
	for _, l := range ls {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

const state = `{"get_tasks":{"tasks":[{"name":"api-0","task_id":{"value":"api-0.1"},"framework_id":{"value":"fw1"},
"agent_id":{"value":"a1"},"state":"TASK_RUNNING","statuses":[{"task_id":{"value":"api-0.1"},"state":"TASK_RUNNING","timestamp":1,
"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"9.0.3.2"}]}]}}],
"discovery":{"name":"api-0","ports":{"ports":[{"number":8080,"name":"http","protocol":"tcp"}]}}}]},
"get_frameworks":{"frameworks":[{"framework_info":{"id":{"value":"fw1"},"name":"hello-world"}}]},
"get_agents":{"agents":[{"agent_info":{"id":{"value":"a1"},"hostname":"10.0.0.11"}}]}}`

// TestSourceFailoverIdleGarbage: a master that refuses is skipped, a
// silent stream is reconnected after Idle, a garbled frame ends the
// stream; each is counted and the tasks stay.
func TestSourceFailoverIdleGarbage(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + refused.Addr().String()
	refused.Close()
	m := master(t)
	m.Heartbeat = time.Hour // silent after SUBSCRIBED
	m.SetOperatorState([]byte(state))
	s := start(t, Options{Masters: []string{dead, m.URL}, Idle: 300 * time.Millisecond})
	eventually.True(t, 5*time.Second, "subscribed at the second master", s.Synced)
	if n := len(s.Tasks()); n != 1 || s.Tasks()[0].Name != "api-0" {
		t.Fatalf("tasks %+v", s.Tasks())
	}
	if s.Errors()["stream_connect"] == 0 {
		t.Error("refused master not counted")
	}
	eventually.True(t, 5*time.Second, "idle reconnect", func() bool { return s.Errors()["stream_idle"] >= 1 && m.Subscriptions() >= 2 })
	subs := m.Subscriptions()
	eventually.True(t, 5*time.Second, "streaming again", func() bool { return m.Subscriptions() > subs || s.Status().Synced })
	m.Send(`{"type":"TASK_UPDATED", this is not json`)
	eventually.True(t, 5*time.Second, "garbage counted", func() bool { return s.Errors()["stream_garbage"] >= 1 })
	if n := len(s.Tasks()); n != 1 {
		t.Errorf("tasks lost: %+v", s.Tasks())
	}
}

// TestSourceResyncResubscribes: the stream is re-opened every Resync
// without counting an error.
func TestSourceResyncResubscribes(t *testing.T) {
	m := master(t)
	m.SetOperatorState([]byte(state))
	s := start(t, Options{Masters: []string{m.URL}, Resync: 200 * time.Millisecond})
	eventually.True(t, 5*time.Second, "three subscriptions", func() bool { return m.Subscriptions() >= 3 })
	if st := s.Status(); st.Errors != 0 {
		t.Errorf("resync counted as errors: %+v", st)
	}
}

var netipZero netip.Addr
