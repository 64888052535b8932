package server

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// TestCNAMEChase: a configured CNAME is followed through the local zones,
// and through the forwarder only for in-cluster targets, without loops
// and for at most maxCNAMEChase names.
func TestCNAMEChase(t *testing.T) {
	fwd := &fakeForwarder{resp: &dns.Msg{Answer: []dns.RR{mustRR(t, "master.mesos. 5 IN A 10.0.0.1")}}}
	cname := func(name, target string) *StaticZone {
		return NewStaticZone(name, mustRR(t, name+" 5 IN CNAME "+target))
	}
	zones := []Zone{
		NewThisNode(netip.MustParseAddr("10.0.0.7")),
		cname("registry.component.thisdcos.directory.", "master.mesos."),
		cname("local.component.thisdcos.directory.", "thisnode.thisdcos.directory."),
		cname("outside.component.thisdcos.directory.", "example.com."),
		cname("loop-a.component.thisdcos.directory.", "loop-b.component.thisdcos.directory."),
		cname("loop-b.component.thisdcos.directory.", "loop-a.component.thisdcos.directory."),
	}
	// A chain longer than the bound: c0 -> c1 -> ... -> c11 -> thisnode.
	const chain = maxCNAMEChase + 4
	for i := range chain {
		target := "thisnode.thisdcos.directory."
		if i+1 < chain {
			target = chainName(i + 1)
		}
		zones = append(zones, cname(chainName(i), target))
	}
	h := NewHandler(nil, fwd, zones...)
	for _, tc := range []struct {
		name    string
		want    []string
		forward []string
	}{
		{"registry.component.thisdcos.directory.", []string{"CNAME master.mesos.", "A 10.0.0.1"}, []string{"master.mesos."}},
		{"local.component.thisdcos.directory.", []string{"CNAME thisnode.thisdcos.directory.", "A 10.0.0.7"}, nil},
		{"outside.component.thisdcos.directory.", []string{"CNAME example.com."}, nil},
		{"loop-a.component.thisdcos.directory.", []string{"CNAME loop-b.component.thisdcos.directory.", "CNAME loop-a.component.thisdcos.directory."}, nil},
	} {
		fwd.got = nil
		got, _ := serve(t, h, query(tc.name, dns.TypeA), false)
		if d := cmp.Diff(tc.want, rdata(got.Answer)); d != "" || got.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: rcode %s (-want +got):\n%s", tc.name, dns.RcodeToString[got.Rcode], d)
		}
		if d := cmp.Diff(tc.forward, fwd.got); d != "" {
			t.Errorf("%s: forwarded (-want +got):\n%s", tc.name, d)
		}
	}
	got, _ := serve(t, h, query(chainName(0), dns.TypeA), false)
	if n := len(got.Answer); n != maxCNAMEChase+1 {
		t.Errorf("long chain: %d answers, want the first CNAME and %d chased", n, maxCNAMEChase)
	}
}

func chainName(i int) string { return "c" + string(rune('a'+i)) + ".component.thisdcos.directory." }

// rdata renders answers as "TYPE data".
func rdata(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.CNAME:
			out = append(out, "CNAME "+rr.Target)
		case *dns.A:
			out = append(out, "A "+rr.A.String())
		default:
			out = append(out, rr.String())
		}
	}
	return out
}
