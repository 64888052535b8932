package mesoszone

import (
	"context"
	"log/slog"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/taskzone"
	"github.com/dcnet/dcnet/internal/mesostest"
)

func has(z server.Zone, name string, qtype uint16) bool {
	rrs, _ := z.Lookup(name, qtype)
	return len(rrs) > 0
}

// TestSinkApply: each good state replaces the zones and publishes the
// task names once per change; a state without a leader keeps the last
// good records; the serial grows with every change only.
func TestSinkApply(t *testing.T) {
	put := &taskzone.FakeStore{}
	mz, tz := server.NewRecordSetZone(server.MesosZone, nil), server.NewRecordSetZone(server.TaskZone, nil)
	m := NewSink(slog.New(slog.DiscardHandler), records.DefaultConfig(), mz, tz, taskzone.NewPublisher(put))
	defer m.Stop()
	f := &poll.FakeFetcher{}
	noLeader := mesostest.State("db")
	noLeader.Leader = ""
	f.Push(poll.FakeAnswer{State: mesostest.State("web")}, poll.FakeAnswer{State: mesostest.State("web")},
		poll.FakeAnswer{State: noLeader}, poll.FakeAnswer{State: mesostest.State("web", "db")})
	p := &poll.Poller{Fetcher: f, OnState: m.Apply}
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
	if !has(mz, "db.marathon.mesos.", dns.TypeA) || !has(mz, "web.marathon.mesos.", dns.TypeA) {
		t.Error("mesos zone lacks the tasks of the last state")
	}
	if !has(tz, "db.marathon.agentip.dcos.thisdcos.directory.", dns.TypeA) {
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
