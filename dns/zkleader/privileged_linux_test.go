package zkleader

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/internal/zktest"
)

// TestPrivilegedDetector runs a real ZooKeeper in a namespace and masters'
// znodes shaped as Mesos writes them: the detector names the contender
// with the lowest sequence, follows a leader that goes away (its session
// closes) and a new contender, and reports no leader when none is left.
func TestPrivilegedDetector(t *testing.T) {
	netsim.Privileged(t, "java")
	zktest.Require(t)
	f := netsim.NewFabric(t, "dnsdropzk")
	node, err := f.AddNode("zk")
	if err != nil {
		t.Fatal(err)
	}
	srv := zktest.Start(t, node)

	changes := make(chan Masters, 16)
	u, err := ParseURL("zk://" + srv.Addr + "/mesos")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d := &Detector{URL: u, Dial: srv.Dial, OnChange: func(m Masters) { changes <- m }}
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	next := func(want Masters) {
		t.Helper()
		select {
		case got := <-changes:
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("masters -want +got:\n%s", d)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no change to %+v reported", want)
		}
	}
	next(Masters{}) // no /mesos yet

	m1, m2 := srv.Connect(t), srv.Connect(t)
	if _, err := zktest.Contend(m1, "/mesos", zktest.Master("198.18.0.11", 5050)); err != nil {
		t.Fatal(err)
	}
	next(Masters{Leader: "198.18.0.11:5050", All: []string{"198.18.0.11:5050"}})
	if _, err := zktest.Contend(m2, "/mesos", zktest.Master("198.18.0.12", 5050)); err != nil {
		t.Fatal(err)
	}
	next(Masters{Leader: "198.18.0.11:5050", All: []string{"198.18.0.11:5050", "198.18.0.12:5050"}})

	start := time.Now()
	m1.Close() // the leader dies: its ephemeral node goes with its session
	next(Masters{Leader: "198.18.0.12:5050", All: []string{"198.18.0.12:5050"}})
	t.Logf("leader change seen %v after the leader's session closed", time.Since(start))
	m2.Close()
	next(Masters{})
}
