package vipzone

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
)

func kv(name, value string) cluster.Change {
	return cluster.Change{Key: cluster.VIPNamesPrefix + name, Value: []byte(value)}
}

func strs(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

func TestReset(t *testing.T) {
	for _, tc := range []struct {
		name string
		kvs  []cluster.Change
		want []string
	}{
		{"empty", nil, nil},
		{"dual", []cluster.Change{kv("web.marathon.l4lb.thisdcos.directory", `{"name":"web.marathon.l4lb.thisdcos.directory","addrs":["11.0.0.1","fd01:c::1"]}`)},
			[]string{"web.marathon.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.1", "web.marathon.l4lb.thisdcos.directory.\t5\tIN\tAAAA\tfd01:c::1"}},
		{"name from key, upper case", []cluster.Change{kv("Db.L4LB.thisdcos.directory", `{"addrs":["11.0.0.2"]}`)},
			[]string{"db.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.2"}},
		{"bad json, bad addr, outside zone, other name", []cluster.Change{
			kv("a.l4lb.thisdcos.directory", `{`),
			kv("b.l4lb.thisdcos.directory", `{"addrs":["nope","11.0.0.3"]}`),
			kv("evil.example.com", `{"name":"evil.example.com","addrs":["11.0.0.4"]}`),
			kv("l4lb.thisdcos.directory", `{"addrs":["11.0.0.5"]}`),
			kv("c.l4lb.thisdcos.directory", `{"name":"d.l4lb.thisdcos.directory","addrs":["11.0.0.6"]}`)},
			[]string{"b.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := New(nil)
			z.Reset(tc.kvs)
			if d := cmp.Diff(tc.want, strs(z.Records())); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	z := New(nil)
	name := "web.marathon.l4lb.thisdcos.directory."
	if _, ok := z.Lookup(name, dns.TypeA); ok {
		t.Fatal("empty zone has the name")
	}
	z.Update([]cluster.Change{kv("web.marathon.l4lb.thisdcos.directory", `{"name":"web.marathon.l4lb.thisdcos.directory","addrs":["11.0.0.1","fd01:c::1"]}`)})
	rrs, ok := z.Lookup(name, dns.TypeAAAA)
	if d := cmp.Diff([]string{name + "\t5\tIN\tAAAA\tfd01:c::1"}, strs(rrs)); !ok || d != "" {
		t.Errorf("AAAA (exists %t) (-want +got):\n%s", ok, d)
	}
	z.Update([]cluster.Change{{Key: cluster.VIPNamesPrefix + "web.marathon.l4lb.thisdcos.directory"}})
	if _, ok := z.Lookup(name, dns.TypeA); ok {
		t.Error("removed name still served")
	}
}

// waitFor polls cond every millisecond for at most 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestGateHoldsNamesUntilProgrammed(t *testing.T) {
	z := New(nil)
	g := &FakeGate{}
	z.SetGate(g)
	web := "web.marathon.l4lb.thisdcos.directory."
	db := "db.marathon.l4lb.thisdcos.directory."
	has := func(name string) bool { _, ok := z.Lookup(name, dns.TypeA); return ok }
	g.Program(netip.MustParseAddr("11.0.0.2"))
	z.Reset([]cluster.Change{
		kv("web.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.1","fd01:c::1"]}`),
		kv("db.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.2"]}`),
	})
	if !has(db) {
		t.Error("db (programmed here) is not served")
	}
	if has(web) || z.Held() != 1 {
		t.Fatalf("web (not programmed here) is served or not held: served %t, held %d", has(web), z.Held())
	}
	// Programmed later: the retry serves it without another etcd change.
	g.Program(netip.MustParseAddr("fd01:c::1"))
	waitFor(t, "web to be served once programmed", func() bool { return has(web) })
	if z.Held() != 0 {
		t.Errorf("held %d after web was served", z.Held())
	}
	// A known address passes without asking again.
	before := g.Asked()
	z.Update([]cluster.Change{kv("db.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.2"]}`)})
	if g.Asked() != before {
		t.Errorf("asked %d more times about an admitted address", g.Asked()-before)
	}
	// A new name that stays unprogrammed stays held; deleting it ends that.
	z.Update([]cluster.Change{kv("new.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.9"]}`)})
	time.Sleep(30 * time.Millisecond)
	if has("new.marathon.l4lb.thisdcos.directory.") {
		t.Error("an unprogrammed name is served")
	}
	z.Update([]cluster.Change{{Key: cluster.VIPNamesPrefix + "new.marathon.l4lb.thisdcos.directory"}})
	if z.Held() != 0 {
		t.Errorf("a deleted name is still held (%d)", z.Held())
	}
}

func TestGateFailsOpen(t *testing.T) {
	z := New(nil)
	g := &FakeGate{}
	g.Fail(errors.New("connection refused"))
	z.SetGate(g)
	z.Update([]cluster.Change{kv("web.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.1"]}`)})
	if _, ok := z.Lookup("web.marathon.l4lb.thisdcos.directory.", dns.TypeA); !ok {
		t.Error("without an answering dcnet-l4lb the name must be served")
	}
}

func TestHTTPGate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/programmed/11.0.0.1":
			w.WriteHeader(http.StatusNoContent)
		case "/v1/programmed/11.0.0.2":
			w.Header().Set("X-Dcnet-Programmed", "no")
			w.WriteHeader(http.StatusNotFound)
		case "/v1/programmed/11.0.0.4":
			http.NotFound(w, r) // a server without the route
		default:
			http.Error(w, "bad", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	g := NewHTTPGate(strings.TrimPrefix(srv.URL, "http://"))
	ctx := context.Background()
	if ok, err := g.Programmed(ctx, netip.MustParseAddr("11.0.0.1")); !ok || err != nil {
		t.Errorf("204: %t, %v", ok, err)
	}
	if ok, err := g.Programmed(ctx, netip.MustParseAddr("11.0.0.2")); ok || err != nil {
		t.Errorf("404: %t, %v", ok, err)
	}
	if _, err := g.Programmed(ctx, netip.MustParseAddr("11.0.0.3")); err == nil {
		t.Error("400 must be an error")
	}
	if _, err := g.Programmed(ctx, netip.MustParseAddr("11.0.0.4")); err == nil {
		t.Error("a 404 without the header (no such route) must be an error")
	}
	srv.Close()
	if _, err := g.Programmed(ctx, netip.MustParseAddr("11.0.0.1")); err == nil {
		t.Error("a closed server must be an error")
	}
}

func TestGateForgetsAddressesWithTheirName(t *testing.T) {
	z := New(nil)
	g := &FakeGate{}
	z.SetGate(g)
	g.Program(netip.MustParseAddr("11.0.0.1"))
	z.Update([]cluster.Change{kv("old.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.1"]}`)})
	// old goes away (and with it the VIP from this node's kernel); its
	// address is reused by another VIP this node has not programmed yet.
	z.Update([]cluster.Change{{Key: cluster.VIPNamesPrefix + "old.marathon.l4lb.thisdcos.directory"}})
	g.Unprogram(netip.MustParseAddr("11.0.0.1"))
	z.Update([]cluster.Change{kv("new.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.1"]}`)})
	if _, ok := z.Lookup("new.marathon.l4lb.thisdcos.directory.", dns.TypeA); ok {
		t.Error("a name with a reused address was served without asking")
	}
}

func TestGateFailureCostsOneQuestionPerPass(t *testing.T) {
	z := New(nil)
	g := &FakeGate{}
	g.Fail(errors.New("timeout"))
	z.SetGate(g)
	z.Reset([]cluster.Change{
		kv("a.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.1"]}`),
		kv("b.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.2"]}`),
		kv("c.marathon.l4lb.thisdcos.directory", `{"addrs":["11.0.0.3"]}`),
	})
	if g.Asked() != 1 {
		t.Errorf("a failing gate was asked %d times in one pass, want 1", g.Asked())
	}
	if z.Len() != 3 {
		t.Errorf("%d names served, want all 3 (fail open)", z.Len())
	}
}

func TestResetKeepsTheServedAnswerOfAHeldName(t *testing.T) {
	z := New(nil)
	g := &FakeGate{}
	z.SetGate(g)
	g.Program(netip.MustParseAddr("11.0.0.1"))
	web := "web.marathon.l4lb.thisdcos.directory"
	z.Update([]cluster.Change{kv(web, `{"addrs":["11.0.0.1"]}`)})
	// The address changes to one not programmed here yet, seen by a full
	// re-read (after a compaction): the old answer stays until then.
	z.Reset([]cluster.Change{kv(web, `{"addrs":["11.0.0.7"]}`)})
	rrs, ok := z.Lookup(web+".", dns.TypeA)
	if !ok || len(rrs) != 1 || rrs[0].(*dns.A).A.String() != "11.0.0.1" {
		t.Errorf("after Reset: %v (%t), want the old answer 11.0.0.1", rrs, ok)
	}
	g.Program(netip.MustParseAddr("11.0.0.7"))
	waitFor(t, "the new address", func() bool {
		rrs, _ := z.Lookup(web+".", dns.TypeA)
		return len(rrs) == 1 && rrs[0].(*dns.A).A.String() == "11.0.0.7"
	})
}
