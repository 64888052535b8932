package taskzone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
)

// state has running tasks of marathon on agent 10.0.0.4, task i with
// container IP 9.0.1.(2+i) (given as a Mesos containerizer label).
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
				{Key: "MesosContainerizer.NetworkSettings.IPAddress", Value: fmt.Sprintf("9.0.1.%d", 2+i)}}}},
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
	rs := taskNames(t, state("web"))
	got := map[string]string{}
	for k, v := range Encode(rs) {
		got[k] = string(v)
	}
	want := map[string]string{
		cluster.TaskNamesPrefix + "web.marathon.agentip.dcos.thisdcos.directory.":     `["10.0.0.4"]`,
		cluster.TaskNamesPrefix + "web.marathon.autoip.dcos.thisdcos.directory.":      `["9.0.1.2"]`,
		cluster.TaskNamesPrefix + "web.marathon.containerip.dcos.thisdcos.directory.": `["9.0.1.2"]`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Encode (-want +got):\n%s", d)
	}
	if len(Encode(nil)) != 0 {
		t.Error("nil record set: want no keys")
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       string // name and addresses, or "error"
		bad        int
	}{
		{cluster.TaskNamesPrefix + "web.marathon.containerip.dcos.thisdcos.directory.", `["9.0.1.2","fd01:b::2"]`, "web.marathon.containerip.dcos.thisdcos.directory. [9.0.1.2 fd01:b::2]", 0},
		{cluster.TaskNamesPrefix + "WEB.marathon.containerip.dcos.thisdcos.directory", `["::ffff:9.0.1.2","nope"]`, "web.marathon.containerip.dcos.thisdcos.directory. [9.0.1.2]", 1},
		{cluster.TaskNamesPrefix + "evil.example.com.", `["1.2.3.4"]`, "error", 0},
		{cluster.TaskNamesPrefix + "dcos.thisdcos.directory.", `["1.2.3.4"]`, "error", 0},
		{cluster.TaskNamesKey, `[{"name":"x.dcos.thisdcos.directory.","type":"A","value":"1.2.3.4"}]`, "error", 0},
		{cluster.TaskNamesPrefix + "x.dcos.thisdcos.directory.", `{`, "error", 0},
	} {
		name, addrs, bad, err := Decode(tc.key, []byte(tc.value))
		got := fmt.Sprintf("%s %v", name, addrs)
		if err != nil {
			got = "error"
		}
		if got != tc.want || bad != tc.bad {
			t.Errorf("Decode(%q, %s) = %s, %d bad (err %v); want %s, %d", tc.key, tc.value, got, bad, err, tc.want, tc.bad)
		}
	}
}

func TestPublisher(t *testing.T) {
	ctx := context.Background()
	store := &FakeStore{}
	store.Set(cluster.TaskNamesKey, []byte(`[]`))          // the pre-sharding key
	store.Set(cluster.TaskNamesKey+"-v2", []byte(`other`)) // a sibling that is not ours
	p := NewPublisher(store)
	one := taskNames(t, state("web"))
	if st, err := p.Publish(ctx, one); err != nil || st.Puts != 3 || st.Deletes != 1 || st.Txns != 1 {
		t.Fatalf("first publish: %+v, %v; want 3 puts, the old key deleted, 1 txn", st, err)
	}
	if st, err := p.Publish(ctx, taskNames(t, state("web"))); err != nil || st.Wrote() {
		t.Fatalf("same names again: %+v, %v; want no write", st, err)
	}
	store.Err = errors.New("etcd down")
	two := taskNames(t, state("web", "db"))
	if _, err := p.Publish(ctx, two); err == nil || !strings.Contains(err.Error(), cluster.TaskNamesKey) || !strings.Contains(err.Error(), "etcd down") {
		t.Fatalf("failed publish: err %v, want it to name %s and the cause", err, cluster.TaskNamesKey)
	}
	store.Err = nil
	if st, err := p.Publish(ctx, two); err != nil || st.Puts != 3 || st.Deletes != 0 {
		t.Fatalf("retry after failure: %+v, %v; want db's 3 names put", st, err)
	}
	if st, err := p.Publish(ctx, taskNames(t, state("db"))); err != nil || st.Puts != 2 || st.Deletes != 3 {
		t.Fatalf("web gone, db renumbered: %+v, %v; want 2 puts (db's container IP changed) and 3 deletes", st, err)
	}
	if v, ok := store.Value(cluster.TaskNamesKey + "-v2"); !ok || string(v) != "other" {
		t.Errorf("the sibling key %s-v2 was deleted or changed: %q %t", cluster.TaskNamesKey, v, ok)
	}
	delete(store.values, cluster.TaskNamesKey+"-v2") // out of the way of the comparison below
	want := "txns 3\n" +
		cluster.TaskNamesPrefix + `db.marathon.agentip.dcos.thisdcos.directory. ["10.0.0.4"]` + "\n" +
		cluster.TaskNamesPrefix + `db.marathon.autoip.dcos.thisdcos.directory. ["9.0.1.2"]` + "\n" +
		cluster.TaskNamesPrefix + `db.marathon.containerip.dcos.thisdcos.directory. ["9.0.1.2"]` + "\n"
	if d := cmp.Diff(want, store.String()); d != "" {
		t.Errorf("store (-want +got):\n%s", d)
	}
	// A wiped etcd is repaired at the next resync, not before.
	store.values = nil
	db := taskNames(t, state("db"))
	if st, _ := p.Publish(ctx, db); st.Wrote() {
		t.Errorf("unchanged names before the resync: %+v, want no read nor write", st)
	}
	p.Resync = 1 // any publish is older than 1ns
	if st, err := p.Publish(ctx, db); err != nil || st.Puts != 3 {
		t.Errorf("resync of a wiped etcd: %+v, %v; want 3 puts", st, err)
	}
}

// TestPublisherBatches: many names go out in transactions of at most
// cluster.MaxTxnOps operations, and come back out of the zone.
func TestPublisherBatches(t *testing.T) {
	tasks := make([]string, 250)
	for i := range tasks {
		tasks[i] = fmt.Sprintf("t%03d", i)
	}
	store := &FakeStore{}
	p := NewPublisher(store)
	st, err := p.Publish(context.Background(), taskNames(t, state(tasks...)))
	if err != nil {
		t.Fatal(err)
	}
	txns, maxOps := store.Txns()
	if st.Puts != 750 || txns != 6 || maxOps != cluster.MaxTxnOps {
		t.Errorf("%+v: %d txns of at most %d ops; want 750 puts in 6 txns of at most %d", st, txns, maxOps, cluster.MaxTxnOps)
	}
	kvs, _ := store.List(context.Background(), cluster.TaskNamesPrefix)
	z := New(nil)
	var all []cluster.Change
	for k, v := range kvs {
		all = append(all, cluster.Change{Key: k, Value: v})
	}
	z.Reset(all)
	if z.Len() != 750 {
		t.Errorf("zone has %d names, want 750", z.Len())
	}
}

// TestZone: what a publisher writes, a zone fed key by key serves; a
// change appears, a deleted key disappears, a malformed value keeps the
// name as it was.
func TestZone(t *testing.T) {
	z := New(nil)
	name := "db.marathon.containerip.dcos.thisdcos.directory."
	key := cluster.TaskNamesPrefix + name
	lookup := func() string {
		rrs, ok := z.Lookup(name, dns.TypeA)
		var out []string
		for _, rr := range rrs {
			out = append(out, rr.(*dns.A).A.String())
		}
		return fmt.Sprintf("%t %v", ok, out)
	}
	z.Reset([]cluster.Change{{Key: key, Value: []byte(`["9.0.1.3"]`)}, {Key: cluster.TaskNamesKey, Value: []byte(`[]`)}})
	steps := []struct {
		changes []cluster.Change
		want    string
	}{
		{nil, "true [9.0.1.3]"},
		{[]cluster.Change{{Key: key, Value: []byte(`["9.0.1.2","fd01:b::2"]`)}}, "true [9.0.1.2]"},
		{[]cluster.Change{{Key: key, Value: []byte(`{garbage`)}}, "true [9.0.1.2]"},
		{[]cluster.Change{{Key: key}}, "false []"},
	}
	for i, s := range steps {
		z.Update(s.changes)
		if got := lookup(); got != s.want {
			t.Errorf("step %d: %s = %s, want %s", i, name, got, s.want)
		}
	}
}

// TestPublisherLeader: with Leader set, a standby master writes nothing, a
// new term compares with etcd again, and a publish with a fence that no
// longer holds writes nothing.
func TestPublisherLeader(t *testing.T) {
	ctx := context.Background()
	store := &FakeStore{}
	var mu sync.Mutex
	var term Fence
	leading := false
	p := NewPublisher(store)
	p.Leader = func() (Fence, bool) { mu.Lock(); defer mu.Unlock(); return term, leading }
	lead := func(f Fence, ok bool) { mu.Lock(); term, leading = f, ok; mu.Unlock() }
	web := taskNames(t, state("web"))
	if st, err := p.Publish(ctx, web); err != nil || !st.Standby || st.Wrote() {
		t.Fatalf("standby: %+v, %v; want Standby and no write", st, err)
	}
	if txns, _ := store.Txns(); txns != 0 {
		t.Fatalf("standby wrote %d txns", txns)
	}
	t1 := Fence{Key: cluster.PublisherPrefix + "a", Rev: 7}
	store.SetTerm(t1)
	lead(t1, true)
	if st, err := p.Publish(ctx, web); err != nil || st.Puts != 3 {
		t.Fatalf("leader: %+v, %v; want 3 puts", st, err)
	}
	// Another master led meanwhile and its names are in etcd; this one
	// leads again in a new term: it compares although its names did not
	// change since its own last publish.
	store.Set(cluster.TaskNamesPrefix+"db.marathon.agentip.dcos.thisdcos.directory.", []byte(`["10.0.0.9"]`))
	t2 := Fence{Key: cluster.PublisherPrefix + "a2", Rev: 12}
	store.SetTerm(t2)
	lead(t2, true)
	if st, err := p.Publish(ctx, web); err != nil || st.Deletes != 1 || st.Puts != 0 {
		t.Fatalf("new term: %+v, %v; want the other master's stale name deleted", st, err)
	}
	// The term ended in etcd (another master holds t3) before this master
	// noticed: its fenced write fails and changes nothing.
	store.SetTerm(Fence{Key: cluster.PublisherPrefix + "b", Rev: 15})
	before := store.String()
	if _, err := p.Publish(ctx, taskNames(t, state("web", "db"))); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("stale fence: err %v, want ErrNotLeader", err)
	}
	if after := store.String(); after != before {
		t.Errorf("a stale fence changed the store:\n%s\nwas\n%s", after, before)
	}
}

// TestEncodeIsTaskAddrsJSON: the hand-rolled encoder writes what
// json.Marshal writes for the record type cluster documents.
func TestEncodeIsTaskAddrsJSON(t *testing.T) {
	v4 := []netip.Addr{netip.MustParseAddr("9.0.1.2"), netip.MustParseAddr("9.0.1.3")}
	v6 := []netip.Addr{netip.MustParseAddr("fd01:b::2")}
	want, err := json.Marshal(cluster.TaskAddrs(append(append([]netip.Addr(nil), v4...), v6...)))
	if err != nil {
		t.Fatal(err)
	}
	if got := encodeAddrs(v4, v6); string(got) != string(want) {
		t.Errorf("encodeAddrs = %s, json.Marshal(cluster.TaskAddrs) = %s", got, want)
	}
}
