package mesosdns

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/internal/dnstest"
	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/internal/mesostest"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// stateFile writes a state with the tasks and returns a Config serving
// it on a loopback port, without HTTP.
func stateFile(t *testing.T, tasks ...string) Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	b, err := json.Marshal(mesostest.State(tasks...))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.DNS.Listen = []string{"127.0.0.1:0"}
	c.DNS.Upstreams = []string{"192.0.2.1"}
	c.HTTPAddr = ""
	c.Mesos.StateFile = path
	return c
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"masters", func(c *Config) { c.Mesos.Masters = []string{"10.0.0.1:5050"} }, ""},
		{"no state", func(*Config) {}, "mesos-dns mode needs --mesos-master URL (repeatable) or --mesos-state-file PATH"},
		{"both", func(c *Config) { c.Mesos.Masters, c.Mesos.StateFile = []string{"10.0.0.1:5050"}, "s.json" }, "give one of them"},
		{"bad listen", func(c *Config) { c.Mesos.StateFile, c.DNS.Listen = "s.json", []string{":::"} }, `listen ":::"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			dnstest.WantErr(t, c.Validate(), tc.want)
		})
	}
}

// TestMesosConfig: /v1/config reports what is in force: the defaults
// (also for a zero refresh and timeout, which mean them), the masters'
// addresses, the listener and ports.
func TestMesosConfig(t *testing.T) {
	c := DefaultConfig()
	c.Mesos.Masters = []string{"http://10.0.0.1:5050", "10.0.0.2:5050"}
	c.DNS.Upstreams = []string{"8.8.8.8"}
	got := c.MesosConfig()
	c.Mesos.Refresh, c.DNS.Timeout = 0, 0
	if diff := cmp.Diff(got, c.MesosConfig()); diff != "" {
		t.Errorf("zero refresh and timeout are not the defaults (-defaults +zero):\n%s", diff)
	}
	want := dnsapi.MesosConfig{Masters: []string{"10.0.0.1:5050", "10.0.0.2:5050"}, RefreshSeconds: 5, TTL: 5, Port: 61053,
		Domain: "mesos", Resolvers: []string{"8.8.8.8"}, Timeout: 5, SOAMname: "ns.spartan.", SOARname: "support.mesosphere.com.",
		SOARefresh: got.SOARefresh, SOARetry: got.SOARetry, SOAExpire: got.SOAExpire, SOAMinttl: got.SOAMinttl,
		RecurseOn: true, Listener: "0.0.0.0", HTTPListener: "0.0.0.0", HTTPPort: 8123, DNSOn: true, HTTPOn: true, ExternalOn: true,
		IPSources: []string{"netinfo", "mesos", "host"}, StateTimeoutSeconds: 5, ZoneResolvers: map[string][]string{},
		SetTruncateBit: true, EnumerationOn: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MesosConfig (-want +got):\n%s", diff)
	}
	c.HTTPAddr, c.Mesos.Masters, c.Mesos.StateFile = "", nil, "s.json"
	if mc := c.MesosConfig(); mc.HTTPOn || mc.HTTPPort != 0 || mc.Masters == nil || len(mc.Masters) != 0 {
		t.Errorf("without HTTP and masters: HttpOn %v HttpPort %d Masters %#v", mc.HTTPOn, mc.HTTPPort, mc.Masters)
	}
}

// TestNewStateFile: New reads the state once and serves its mesos. zone;
// a state file that cannot be read is an error of New.
func TestNewStateFile(t *testing.T) {
	d, err := New(stateFile(t, "web"), "test", discard())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if r := dnstest.Ask(t, d.res.Handler, "web.marathon.mesos.", dns.TypeA); len(r.Answer) != 1 || !r.Authoritative {
		t.Errorf("web.marathon.mesos.: %v", r)
	}
	if rs, serial := d.sink.Snapshot(); rs.Len() == 0 || serial == 0 {
		t.Errorf("snapshot: %d records, serial %d", rs.Len(), serial)
	}
	c := stateFile(t)
	c.Mesos.StateFile += ".missing"
	if _, err := New(c, "test", discard()); err == nil || !strings.Contains(err.Error(), ".missing") {
		t.Errorf("missing state file: %v", err)
	}
}

// TestRunPublishes: with etcd the master elects itself publisher and
// writes the task names; Run returns when its context ends.
func TestRunPublishes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	c := stateFile(t, "web")
	c.Etcd = s.Client.Endpoints()
	d, err := New(c, "test", discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	key := cluster.TaskNamesPrefix + "web.marathon.agentip.dcos.thisdcos.directory."
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.Client.Get(ctx, key)
		if err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == `["10.0.0.4"]` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task name %s not published: %v %v", key, resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	resp, err := s.Client.Get(context.Background(), cluster.PublisherPrefix, clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("election keys after Run: %v %v, want none (resigned)", resp, err)
	}
}
