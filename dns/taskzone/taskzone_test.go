package taskzone

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/overlayd/cluster"
)

// state has one running task "web" of marathon on agent 10.0.0.4 with
// container IP 9.0.1.2 (given as a Mesos containerizer label).
func state(tasks ...string) mesos.State {
	st := mesos.State{
		Leader: "master@10.0.0.1:5050",
		Agents: []mesos.Agent{{ID: "a-S1", PID: "slave(1)@10.0.0.4:5051"}},
	}
	fw := mesos.Framework{Name: "marathon"}
	for i, name := range tasks {
		fw.Tasks = append(fw.Tasks, mesos.Task{
			ID: name + ".1", Name: name, AgentID: "a-S1", State: mesos.TaskRunning,
			Statuses: []mesos.Status{{State: mesos.TaskRunning, Timestamp: 1, Labels: []mesos.Label{
				{Key: "MesosContainerizer.NetworkSettings.IPAddress", Value: "9.0.1." + string(rune('2'+i))}}}},
		})
	}
	st.Frameworks = []mesos.Framework{fw}
	return st
}

func taskNames(t *testing.T, st mesos.State) *records.RecordSet {
	t.Helper()
	rs, err := records.TaskNames(st, records.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &rs
}

func TestEncode(t *testing.T) {
	b, err := Encode(taskNames(t, state("web")))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"web.marathon.agentip.dcos.thisdcos.directory.","type":"A","value":"10.0.0.4"},` +
		`{"name":"web.marathon.autoip.dcos.thisdcos.directory.","type":"A","value":"9.0.1.2"},` +
		`{"name":"web.marathon.containerip.dcos.thisdcos.directory.","type":"A","value":"9.0.1.2"}]`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	if b, _ := Encode(nil); string(b) != "[]" {
		t.Errorf("nil record set: %s, want []", b)
	}
}

func TestBuild(t *testing.T) {
	rrs, skipped, err := Build([]byte(`[
		{"name":"web.marathon.containerip.dcos.thisdcos.directory.","type":"A","value":"9.0.1.2"},
		{"name":"WEB.marathon.containerip.dcos.thisdcos.directory","type":"AAAA","value":"fd01:b::2"},
		{"name":"evil.example.com.","type":"A","value":"1.2.3.4"},
		{"name":"dcos.thisdcos.directory.","type":"A","value":"1.2.3.4"},
		{"name":"x.dcos.thisdcos.directory.","type":"TXT","value":"hi"},
		{"name":"y.dcos.thisdcos.directory.","type":"A","value":"fd01::1"},
		{"name":"z.dcos.thisdcos.directory.","type":"A","value":"nope"}]`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rr := range rrs {
		got = append(got, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	want := []string{
		"web.marathon.containerip.dcos.thisdcos.directory. 5 IN A 9.0.1.2",
		"web.marathon.containerip.dcos.thisdcos.directory. 5 IN AAAA fd01:b::2",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if skipped != 5 {
		t.Errorf("skipped %d, want 5", skipped)
	}
	if _, _, err := Build([]byte(`{`)); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestPublisher(t *testing.T) {
	ctx := context.Background()
	put := &FakePutter{}
	p := NewPublisher(put)
	one := taskNames(t, state("web"))
	if wrote, err := p.Publish(ctx, one); err != nil || !wrote {
		t.Fatalf("first publish: wrote %t, %v", wrote, err)
	}
	if wrote, err := p.Publish(ctx, taskNames(t, state("web"))); err != nil || wrote {
		t.Fatalf("same names again: wrote %t, %v; want no write", wrote, err)
	}
	put.Err = errors.New("etcd down")
	two := taskNames(t, state("web", "db"))
	if _, err := p.Publish(ctx, two); err == nil || !strings.Contains(err.Error(), Key) || !strings.Contains(err.Error(), "etcd down") {
		t.Fatalf("failed put: err %v, want it to name %s and the cause", err, Key)
	}
	put.Err = nil
	if wrote, err := p.Publish(ctx, two); err != nil || !wrote {
		t.Fatalf("retry after failure: wrote %t, %v", wrote, err)
	}
	v, _ := put.Value(Key)
	if !strings.Contains(string(v), "db.marathon.containerip.dcos.thisdcos.directory.") {
		t.Errorf("published value lacks the new task: %s", v)
	}
	if got := put.String(); !strings.HasPrefix(got, "puts 2\n") {
		t.Errorf("fake state:\n%s", got)
	}
	p.Resync = 1 // any unchanged list is older than 1ns
	if wrote, err := p.Publish(ctx, two); err != nil || !wrote {
		t.Errorf("resync: wrote %t, %v; want a rewrite", wrote, err)
	}
}

type fakeSource struct {
	mu  sync.Mutex
	kvs []cluster.KV
}

var _ Source = (*fakeSource)(nil)

func (f *fakeSource) List(string) []cluster.KV {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cluster.KV(nil), f.kvs...)
}

func (f *fakeSource) set(v []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kvs = []cluster.KV{{Key: Key, Value: v}}
}

// TestPublishToZone: what a publisher writes, a zone serves; a change
// appears, a malformed value keeps the previous list.
func TestPublishToZone(t *testing.T) {
	ctx := context.Background()
	put := &FakePutter{}
	p := NewPublisher(put)
	src := &fakeSource{}
	z := New(src)
	name := "db.marathon.containerip.dcos.thisdcos.directory."
	lookup := func() []string {
		rrs, _ := z.Lookup(name, dns.TypeA)
		var out []string
		for _, rr := range rrs {
			out = append(out, rr.(*dns.A).A.String())
		}
		return out
	}
	for _, tc := range []struct {
		tasks []string
		want  []string
	}{
		{[]string{"web"}, nil},
		{[]string{"web", "db"}, []string{"9.0.1.3"}},
		{[]string{"db"}, []string{"9.0.1.2"}},
		{nil, nil},
	} {
		if _, err := p.Publish(ctx, taskNames(t, state(tc.tasks...))); err != nil {
			t.Fatal(err)
		}
		v, _ := put.Value(Key)
		src.set(v)
		if _, err := z.Refresh(); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, lookup()); d != "" {
			t.Errorf("tasks %v: %s (-want +got):\n%s", tc.tasks, name, d)
		}
	}
	src.set(mustEncode(t, state("db")))
	z.Refresh()
	src.set([]byte("{garbage"))
	if _, err := z.Refresh(); err == nil {
		t.Fatal("garbage accepted")
	}
	if got := lookup(); len(got) != 1 || netip.MustParseAddr(got[0]) != netip.MustParseAddr("9.0.1.2") {
		t.Errorf("after garbage: %v, want the previous list kept", got)
	}
	src.mu.Lock()
	src.kvs = nil
	src.mu.Unlock()
	z.Refresh()
	if got := lookup(); got != nil {
		t.Errorf("key deleted: still serving %v", got)
	}
}

func mustEncode(t *testing.T, st mesos.State) []byte {
	t.Helper()
	b, err := Encode(taskNames(t, st))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
