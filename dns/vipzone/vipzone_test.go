package vipzone

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/overlayd/cluster"
)

type fakeSource struct {
	mu  sync.Mutex
	kvs []cluster.KV
}

var _ Source = (*fakeSource)(nil)

func (f *fakeSource) List(string) []cluster.KV {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cluster.KV(nil), f.kvs...)
}

func kv(name, value string) cluster.KV { return cluster.KV{Key: Prefix + name, Value: []byte(value)} }

func strs(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kvs     []cluster.KV
		want    []string
		skipped int
	}{
		{"empty", nil, nil, 0},
		{"dual", []cluster.KV{kv("web.marathon.l4lb.thisdcos.directory", `{"name":"web.marathon.l4lb.thisdcos.directory","addrs":["11.0.0.1","fd01:c::1"]}`)},
			[]string{"web.marathon.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.1", "web.marathon.l4lb.thisdcos.directory.\t5\tIN\tAAAA\tfd01:c::1"}, 0},
		{"name from key, upper case", []cluster.KV{kv("Db.L4LB.thisdcos.directory", `{"addrs":["11.0.0.2"]}`)},
			[]string{"db.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.2"}, 0},
		{"bad json, bad addr, outside zone", []cluster.KV{
			kv("a.l4lb.thisdcos.directory", `{`),
			kv("b.l4lb.thisdcos.directory", `{"addrs":["nope","11.0.0.3"]}`),
			kv("evil.example.com", `{"name":"evil.example.com","addrs":["11.0.0.4"]}`),
			kv("l4lb.thisdcos.directory", `{"addrs":["11.0.0.5"]}`)},
			[]string{"b.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.3"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rrs, skipped := Build(tc.kvs)
			if d := cmp.Diff(tc.want, strs(rrs)); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
			if skipped != tc.skipped {
				t.Errorf("skipped %d, want %d", skipped, tc.skipped)
			}
		})
	}
}

func TestZoneRefresh(t *testing.T) {
	src := &fakeSource{}
	z := New(src)
	name := "web.marathon.l4lb.thisdcos.directory."
	if _, ok := z.Lookup(name, dns.TypeA); ok {
		t.Fatal("empty zone has the name")
	}
	src.kvs = []cluster.KV{kv("web.marathon.l4lb.thisdcos.directory", `{"name":"web.marathon.l4lb.thisdcos.directory","addrs":["11.0.0.1","fd01:c::1"]}`)}
	z.Refresh()
	rrs, ok := z.Lookup(name, dns.TypeAAAA)
	if d := cmp.Diff([]string{name + "\t5\tIN\tAAAA\tfd01:c::1"}, strs(rrs)); !ok || d != "" {
		t.Errorf("AAAA (exists %t) (-want +got):\n%s", ok, d)
	}
	src.kvs = nil
	z.Refresh()
	if _, ok := z.Lookup(name, dns.TypeA); ok {
		t.Error("removed name still served")
	}
}
