package vipzone

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mirror"
)

func kv(name, value string) mirror.Change {
	return mirror.Change{Key: Prefix + name, Value: []byte(value)}
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
		kvs  []mirror.Change
		want []string
	}{
		{"empty", nil, nil},
		{"dual", []mirror.Change{kv("web.marathon.l4lb.thisdcos.directory", `{"name":"web.marathon.l4lb.thisdcos.directory","addrs":["11.0.0.1","fd01:c::1"]}`)},
			[]string{"web.marathon.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.1", "web.marathon.l4lb.thisdcos.directory.\t5\tIN\tAAAA\tfd01:c::1"}},
		{"name from key, upper case", []mirror.Change{kv("Db.L4LB.thisdcos.directory", `{"addrs":["11.0.0.2"]}`)},
			[]string{"db.l4lb.thisdcos.directory.\t5\tIN\tA\t11.0.0.2"}},
		{"bad json, bad addr, outside zone, other name", []mirror.Change{
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
	z.Update([]mirror.Change{kv("web.marathon.l4lb.thisdcos.directory", `{"name":"web.marathon.l4lb.thisdcos.directory","addrs":["11.0.0.1","fd01:c::1"]}`)})
	rrs, ok := z.Lookup(name, dns.TypeAAAA)
	if d := cmp.Diff([]string{name + "\t5\tIN\tAAAA\tfd01:c::1"}, strs(rrs)); !ok || d != "" {
		t.Errorf("AAAA (exists %t) (-want +got):\n%s", ok, d)
	}
	z.Update([]mirror.Change{{Key: Prefix + "web.marathon.l4lb.thisdcos.directory"}})
	if _, ok := z.Lookup(name, dns.TypeA); ok {
		t.Error("removed name still served")
	}
}
