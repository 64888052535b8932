package taskzone_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/taskzone"
	"github.com/dcnet/dcnet/internal/etcdtest"
)

// state has n running tasks of marathon on agent 10.0.0.4, task i with
// container IP 9.0.x.y.
func state(n int) mesos.State {
	st := mesos.State{Leader: "master@10.0.0.1:5050", Agents: []mesos.Agent{{ID: "a-S1", PID: "slave(1)@10.0.0.4:5051"}}}
	fw := mesos.Framework{Name: "marathon"}
	for i := range n {
		fw.Tasks = append(fw.Tasks, mesos.Task{ID: fmt.Sprintf("t%05d.1", i), Name: fmt.Sprintf("t%05d", i), AgentID: "a-S1",
			State: mesos.TaskRunning, Statuses: []mesos.Status{{State: mesos.TaskRunning, Timestamp: 1, Labels: []mesos.Label{
				{Key: "MesosContainerizer.NetworkSettings.IPAddress", Value: fmt.Sprintf("9.0.%d.%d", i/250, i%250+1)}}}}})
	}
	st.Frameworks = []mesos.Framework{fw}
	return st
}

// TestPublishMirror: task names published to a real (embedded) etcd reach
// a zone through the mirror: more names than one page of the full read,
// then a change through the watch.
func TestPublishMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := taskzone.NewPublisher(taskzone.EtcdStore{Store: s})
	publish := func(n int) {
		t.Helper()
		rs, err := records.TaskNames(state(n), records.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pub.Publish(ctx, &rs); err != nil {
			t.Fatal(err)
		}
	}
	publish(2100) // 6300 names: two pages
	z, m := taskzone.Watch(s, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(ctx) }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (zone has %d names)", what, z.Len())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the full read", func() bool { return m.Synced() && z.Len() == 6300 })
	last := "t02099.marathon.containerip.dcos.thisdcos.directory."
	if rrs, _ := z.Lookup(last, dns.TypeA); len(rrs) != 1 || rrs[0].(*dns.A).A.String() != "9.0.8.100" {
		t.Errorf("%s = %v", last, rrs)
	}
	publish(2000) // 300 names deleted through the watch
	waitFor("the deletes", func() bool { return z.Len() == 6000 })
	if _, ok := z.Lookup(last, dns.TypeA); ok {
		t.Errorf("%s still served", last)
	}
	cancel()
	wg.Wait()
}
