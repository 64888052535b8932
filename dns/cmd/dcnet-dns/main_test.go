package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/taskzone"
)

func testState(tasks ...string) mesos.State {
	st := mesos.State{
		PID:    "master@10.0.0.1:5050",
		Leader: "master@10.0.0.1:5050",
		Agents: []mesos.Agent{{ID: "a-S1", PID: "slave(1)@10.0.0.4:5051"}},
	}
	fw := mesos.Framework{Name: "marathon"}
	for _, name := range tasks {
		fw.Tasks = append(fw.Tasks, mesos.Task{ID: name + ".1", Name: name, AgentID: "a-S1", State: mesos.TaskRunning,
			Statuses: []mesos.Status{{State: mesos.TaskRunning, Timestamp: 1}}})
	}
	st.Frameworks = []mesos.Framework{fw}
	return st
}

func has(z server.Zone, name string, qtype uint16) bool {
	rrs, _ := z.Lookup(name, qtype)
	return len(rrs) > 0
}

// TestMesosStateApply: each good state replaces the zones and publishes
// the task names once per change; a state without a leader keeps the last
// good records; the serial grows with every change only.
func TestMesosStateApply(t *testing.T) {
	put := &taskzone.FakeStore{}
	m := &mesosState{log: slog.New(slog.DiscardHandler), cfg: records.DefaultConfig(),
		mesos: server.NewRecordSetZone(server.MesosZone, nil), tasks: server.NewRecordSetZone(server.TaskZone, nil),
		pub: taskzone.NewPublisher(put)}
	f := &poll.FakeFetcher{}
	noLeader := testState("db")
	noLeader.Leader = ""
	f.Push(poll.FakeAnswer{State: testState("web")}, poll.FakeAnswer{State: testState("web")},
		poll.FakeAnswer{State: noLeader}, poll.FakeAnswer{State: testState("web", "db")})
	p := &poll.Poller{Fetcher: f, OnState: m.apply}
	ctx := context.Background()

	var serials []uint32
	for range 4 {
		if err := p.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		_, s := m.Snapshot()
		serials = append(serials, s)
	}
	if !(serials[0] == serials[1] && serials[1] == serials[2] && serials[3] > serials[2]) {
		t.Errorf("serials %v: want unchanged for the same or an unusable state, growing on change", serials)
	}
	if !has(m.mesos, "db.marathon.mesos.", dns.TypeA) || !has(m.mesos, "web.marathon.mesos.", dns.TypeA) {
		t.Error("mesos zone lacks the tasks of the last state")
	}
	if !has(m.tasks, "db.marathon.agentip.dcos.thisdcos.directory.", dns.TypeA) {
		t.Error("task zone lacks db")
	}
	if txns, _ := put.Txns(); txns != 2 {
		t.Errorf("etcd transactions %d, want 2 (one per change):\n%s", txns, put)
	}
	if _, ok := put.Value(cluster.TaskNamesPrefix + "db.marathon.agentip.dcos.thisdcos.directory."); !ok {
		t.Errorf("etcd lacks db:\n%s", put)
	}
	rs, _ := m.Snapshot()
	if recs, _ := rs.Lookup("leader.mesos.", records.TypeA); len(recs) != 1 || recs[0].Addr.String() != "10.0.0.1" {
		t.Errorf("snapshot leader.mesos. = %v", recs)
	}
}

func nodeOptions(t *testing.T) options {
	return options{mode: modeNode, listen: listFlag{"127.0.0.1:0"}, upstreams: listFlag{"192.0.2.1"}, refresh: poll.DefaultInterval}
}

func ask(t *testing.T, h dns.Handler, name string, qtype uint16) *dns.Msg {
	t.Helper()
	req := new(dns.Msg).SetQuestion(name, qtype)
	w := &recorder{}
	h.ServeDNS(w, req)
	if w.msg == nil {
		t.Fatalf("no answer to %s", name)
	}
	return w.msg
}

// TestBuildNodeStateFile: the per-node server serves the task names and
// the mesos zone of a state file, and picks up a changed file at the next
// poll.
func TestBuildNodeStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	write := func(st mesos.State) {
		b, err := jsonMarshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(testState("web"))
	o := nodeOptions(t)
	o.stateFile = path
	n, err := buildNode(slog.New(slog.DiscardHandler), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.poller.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	name := "db.marathon.agentip.dcos.thisdcos.directory."
	if r := ask(t, n.handler, name, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("%s before the change: %s", name, dns.RcodeToString[r.Rcode])
	}
	write(testState("web", "db"))
	if err := n.poller.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := ask(t, n.handler, name, dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("%s after the change: %v", name, r)
	}
	if r := ask(t, n.handler, "leader.mesos.", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("leader.mesos.: %v", r)
	}
}

func TestCNAMEZones(t *testing.T) {
	o := nodeOptions(t)
	o.cnames = listFlag{"registry.component.thisdcos.directory=thisnode.thisdcos.directory"}
	o.nodeIPs = listFlag{"10.0.0.7"}
	n, err := buildNode(slog.New(slog.DiscardHandler), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := ask(t, n.handler, "registry.component.thisdcos.directory.", dns.TypeA)
	if len(r.Answer) == 0 || !r.Authoritative {
		t.Fatalf("no authoritative answer: %v", r)
	}
	c, ok := r.Answer[0].(*dns.CNAME)
	if !ok || c.Target != "thisnode.thisdcos.directory." {
		t.Errorf("first answer %v, want CNAME thisnode.thisdcos.directory.", r.Answer[0])
	}
	if len(r.Answer) != 2 || r.Answer[1].(*dns.A).A.String() != "10.0.0.7" {
		t.Errorf("answers %v, want the CNAME chased to thisnode's A 10.0.0.7", r.Answer)
	}
	for _, bad := range []string{"noequals", "a.b=", "=a.b", "a.b=a.b"} {
		o.cnames = listFlag{bad}
		if _, err := buildNode(slog.New(slog.DiscardHandler), o, nil); err == nil || !strings.Contains(err.Error(), "cname") {
			t.Errorf("--cname %q: err %v", bad, err)
		}
	}
}
