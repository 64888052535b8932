package mesoszone

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/internal/dnstest"
	"github.com/dcnet/dcnet/internal/mesostest"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"defaults, no state", func(*Config) {}, ""},
		{"zeros are defaults", func(c *Config) { c.Refresh, c.Timeout, c.StateFile = 0, 0, "state.json" }, ""},
		{"masters", func(c *Config) { c.Masters = []string{"http://10.0.0.1:5050", "10.0.0.2:5050"} }, ""},
		{"both", func(c *Config) { c.Masters, c.StateFile = []string{"10.0.0.1:5050"}, "state.json" }, "give one of them"},
		{"bad master", func(c *Config) { c.Masters = []string{"ftp://10.0.0.1"} }, `mesos master "ftp://10.0.0.1": scheme "ftp"`},
		{"negative refresh", func(c *Config) { c.Refresh = -time.Second }, "refresh -1s: must not be negative (0: the default 5s)"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "mesos timeout -1s: must not be negative"},
		{"bad ip source", func(c *Config) { c.Records.IPSources = []string{"dns"} }, `ip source "dns"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			dnstest.WantErr(t, c.Validate(), tc.want)
		})
	}
}

// TestZeroMeansDefault: a zero duration means the default the flag
// documents, the value DefaultConfig holds.
func TestZeroMeansDefault(t *testing.T) {
	got := Config{}.WithDefaults()
	if got.Refresh != poll.DefaultInterval || got.Timeout != poll.DefaultTimeout {
		t.Errorf("Config{}.WithDefaults(): refresh %s timeout %s, want %s and %s", got.Refresh, got.Timeout, poll.DefaultInterval, poll.DefaultTimeout)
	}
	d := DefaultConfig()
	if d.Refresh != got.Refresh || d.Timeout != got.Timeout || !d.Subscribe || d.Enabled() {
		t.Errorf("DefaultConfig %+v", d)
	}
}

func TestMasterAddrs(t *testing.T) {
	c := Config{Masters: []string{"http://10.0.0.1:5050", "10.0.0.2:5050", "http://master3:5050", "https://[2001:db8::1]:5050"}}
	want := []string{"10.0.0.1:5050", "10.0.0.2:5050", "[2001:db8::1]:5050"}
	if diff := cmp.Diff(want, c.MasterAddrs()); diff != "" {
		t.Errorf("MasterAddrs (-want +got):\n%s", diff)
	}
}

// TestSourceStateFile: no state named is no source; a state file feeds
// the sink at Prime and at every Poll; one that cannot be read fails
// Prime.
func TestSourceStateFile(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tz := server.NewRecordSetZone(server.TaskZone, nil)
	sink := NewSink(log, records.DefaultConfig(), nil, tz, nil)
	if s, err := NewSource(DefaultConfig(), sink, log); s != nil || err != nil {
		t.Fatalf("no state named: %v %v, want nil nil", s, err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	write := func(tasks ...string) {
		b, err := json.Marshal(mesostest.State(tasks...))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web")
	cfg := DefaultConfig()
	cfg.StateFile = path
	src, err := NewSource(cfg, sink, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := src.Prime(ctx); err != nil {
		t.Fatal(err)
	}
	name := "db.marathon.agentip.dcos.thisdcos.directory."
	if rrs, _ := tz.Lookup("web.marathon.agentip.dcos.thisdcos.directory.", dns.TypeA); len(rrs) != 1 {
		t.Errorf("web after Prime: %v", rrs)
	}
	write("web", "db")
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if rrs, _ := tz.Lookup(name, dns.TypeA); len(rrs) != 1 {
		t.Errorf("%s after the change: %v", name, rrs)
	}
	cfg.StateFile = filepath.Join(t.TempDir(), "missing.json")
	if src, err = NewSource(cfg, sink, log); err != nil {
		t.Fatal(err)
	}
	if err := src.Prime(ctx); err == nil {
		t.Error("Prime of a missing state file: no error")
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg.StateFile, cfg.Masters = "", []string{down.URL}
	if src, err = NewSource(cfg, sink, log); err != nil {
		t.Fatal(err)
	}
	if err := src.Prime(ctx); err != nil {
		t.Errorf("Prime of masters that do not answer: %v, want nil (logged, asked again)", err)
	}
}
