package node

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/internal/dnstest"
	"github.com/dcnet/dcnet/internal/mesostest"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testConfig is node mode on a loopback port with an upstream that is
// never asked.
func testConfig() Config {
	c := DefaultConfig()
	c.DNS.Listen = []string{"127.0.0.1:0"}
	c.DNS.Upstreams = []string{"192.0.2.1"}
	return c
}

// TestBuildNodeStateFile: the per-node server serves the task names and
// the mesos zone of a state file, and picks up a changed file at the next
// poll.
func TestBuildNodeStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	write := func(st mesos.State) {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(mesostest.State("web"))
	c := testConfig()
	c.Mesos.StateFile = path
	n, err := New(c, "test", discard())
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if err := n.src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	name := "db.marathon.agentip.dcos.thisdcos.directory."
	if r := dnstest.Ask(t, n.res.Handler, name, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("%s before the change: %s", name, dns.RcodeToString[r.Rcode])
	}
	write(mesostest.State("web", "db"))
	if err := n.src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := dnstest.Ask(t, n.res.Handler, name, dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("%s after the change: %v", name, r)
	}
	if r := dnstest.Ask(t, n.res.Handler, "leader.mesos.", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("leader.mesos.: %v", r)
	}
}

// TestNewStateFileMissing: a state file that cannot be read at start is
// an error of New (a configuration error).
func TestNewStateFileMissing(t *testing.T) {
	c := testConfig()
	c.Mesos.StateFile = filepath.Join(t.TempDir(), "missing.json")
	if _, err := New(c, "test", discard()); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("New with a missing state file: %v", err)
	}
}

func TestCNAMEZones(t *testing.T) {
	c := testConfig()
	cn, err := ParseCNAME("registry.component.thisdcos.directory=thisnode.thisdcos.directory")
	if err != nil {
		t.Fatal(err)
	}
	c.CNAMEs = []CNAME{cn}
	c.NodeIPs = []string{"10.0.0.7"}
	n, err := New(c, "test", discard())
	if err != nil {
		t.Fatal(err)
	}
	r := dnstest.Ask(t, n.res.Handler, "registry.component.thisdcos.directory.", dns.TypeA)
	if len(r.Answer) == 0 || !r.Authoritative {
		t.Fatalf("no authoritative answer: %v", r)
	}
	cr, ok := r.Answer[0].(*dns.CNAME)
	if !ok || cr.Target != "thisnode.thisdcos.directory." {
		t.Errorf("first answer %v, want CNAME thisnode.thisdcos.directory.", r.Answer[0])
	}
	if len(r.Answer) != 2 || r.Answer[1].(*dns.A).A.String() != "10.0.0.7" {
		t.Errorf("answers %v, want the CNAME chased to thisnode's A 10.0.0.7", r.Answer)
	}
	for _, bad := range []string{"noequals", "a.b=", "=a.b", "a.b=a.b"} {
		if _, err := ParseCNAME(bad); err == nil || !strings.Contains(err.Error(), "cname") {
			t.Errorf("--cname %q: err %v", bad, err)
		}
		name, target, ok := strings.Cut(bad, "=")
		if !ok {
			continue
		}
		c.CNAMEs = []CNAME{{Name: name, Target: target}}
		if _, err := New(c, "test", discard()); err == nil || !strings.Contains(err.Error(), "cname") {
			t.Errorf("CNAME{%q, %q}: err %v", name, target, err)
		}
	}
}
