package daemon

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
)

// TestOptionsZeroMeansDefault: a zero duration or an empty node name in
// Options means the default, as the dcnet-l4lb flag that fills it does
// (--sync-interval 0, --mesos-poll-interval 0, --vip-release-grace 0,
// --fail-open-hold 0, --node-name ""); negative intervals are refused,
// negative grace and hold mean never.
func TestOptionsZeroMeansDefault(t *testing.T) {
	store, err := cluster.Connect(cluster.Options{Endpoints: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base := Options{Store: store, Kernel: dataplane.NewFake(), Log: quiet, Mesos: AgentOptions{Agent: "http://10.0.0.4:5051"}}
	d, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if d.opts.Node != host || d.opts.SyncInterval != DefaultSyncInterval || d.opts.ReleaseGrace != DefaultReleaseGrace ||
		d.opts.FailOpenHold != DefaultFailOpenHold || d.agent.interval != DefaultMesosPoll {
		t.Errorf("zero options: node %q sync %s grace %s hold %s poll %s, want %q and the defaults",
			d.opts.Node, d.opts.SyncInterval, d.opts.ReleaseGrace, d.opts.FailOpenHold, d.agent.interval, host)
	}
	if d.releaser == nil || d.releaser.grace != DefaultReleaseGrace || d.holder.hold != DefaultFailOpenHold {
		t.Errorf("releaser %v holder %v, want the defaults", d.releaser, d.holder)
	}
	never := base
	never.ReleaseGrace, never.FailOpenHold = -1, -1
	if d, err = New(never); err != nil || d.releaser != nil || d.holder.hold > 0 {
		t.Errorf("negative grace and hold: %v, releaser %v, hold %s; want never", err, d.releaser, d.holder.hold)
	}
	for _, bad := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.SyncInterval = -time.Second }, "sync interval -1s: must not be negative (0: the default 10s)"},
		{func(o *Options) { o.Mesos.Poll = -time.Second }, "mesos poll interval -1s: must not be negative (0: the default 2s)"},
		{func(o *Options) { o.Node = "a/b" }, `node name "a/b"`},
	} {
		o := base
		bad.edit(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("New: %v, want an error containing %q", err, bad.want)
		}
	}
}
