package server

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
)

// fromRecorder is a recorder whose client address is set.
type fromRecorder struct {
	recorder
	from net.IP
}

func (r *fromRecorder) RemoteAddr() net.Addr { return &net.UDPAddr{IP: r.from, Port: 40000} }

func TestRecursionGate(t *testing.T) {
	fwd := &fakeForwarder{resp: &dns.Msg{Answer: []dns.RR{mustRR(t, "example.com. 300 IN A 93.184.216.34")}}}
	h := testHandler(t, fwd)
	refused := 0
	g := &RecursionGate{Handler: h, Nets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Refused: func() { refused++ }}
	for _, tt := range []struct {
		desc, from, name string
		want             int
	}{
		{"forwarded name from another node", "198.18.0.2", "example.com.", dns.RcodeRefused},
		{"forwarded name from a recursion net", "10.1.2.3", "example.com.", dns.RcodeSuccess},
		{"cluster name from another node", "198.18.0.2", "ready.spartan.", dns.RcodeSuccess},
		{"unknown cluster name from another node", "198.18.0.2", "nope.mesos.", dns.RcodeNameError},
		{"ipv4-mapped client in a recursion net", "::ffff:10.1.0.9", "example.com.", dns.RcodeSuccess},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			r := &fromRecorder{from: net.ParseIP(tt.from)}
			req := query(tt.name, dns.TypeA)
			req.SetEdns0(1232, false)
			g.ServeDNS(r, req)
			if r.msg == nil || r.msg.Rcode != tt.want {
				t.Fatalf("response %v, want rcode %s", r.msg, dns.RcodeToString[tt.want])
			}
			if r.msg.Id != req.Id || r.msg.IsEdns0() == nil {
				t.Errorf("response id %d (want %d), OPT %v", r.msg.Id, req.Id, r.msg.IsEdns0())
			}
		})
	}
	if refused != 1 {
		t.Errorf("refused counted %d times, want 1", refused)
	}
	if d := cmp.Diff([]string{"example.com.", "example.com."}, fwd.got); d != "" {
		t.Errorf("forwarded -want +got:\n%s", d)
	}
}

func TestAuthority(t *testing.T) {
	st := mesos.State{Leader: "master@10.0.0.1:5050"}
	rs, err := records.Generate(st, records.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	z := NewRecordSetZoneWith("mesos.", Authority{TTL: 60, Mname: "ns1.mesos", Rname: "root.ns1.mesos", Refresh: 61, Retry: 601, Expire: 86401, SRVWeight: 1, NoRecursionAvailable: true}, &rs)
	h := NewHandler(nil, nil, z)
	for _, tt := range []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"leader.mesos.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an leader.mesos. 60 IN A 10.0.0.1"}},
		{"_leader._tcp.mesos.", dns.TypeSRV, []string{"rcode NOERROR aa=true tc=false", "an _leader._tcp.mesos. 60 IN SRV 0 1 5050 leader.mesos."}},
		{"mesos.", dns.TypeNS, []string{"rcode NOERROR aa=true tc=false", "an mesos. 60 IN NS ns1.mesos."}},
		{"nope.mesos.", dns.TypeA, []string{"rcode NXDOMAIN aa=true tc=false", "ns mesos. 60 IN SOA ns1.mesos. root.ns1.mesos. 0 61 601 86401 60"}},
	} {
		got, _ := serve(t, h, query(tt.name, tt.qtype), false)
		if d := cmp.Diff(tt.want, answerText(got)); d != "" {
			t.Errorf("%s: -want +got:\n%s", tt.name, d)
		}
		if got.RecursionAvailable {
			t.Errorf("%s: RA set", tt.name)
		}
	}
}

func TestClearTruncated(t *testing.T) {
	h := testHandler(t, nil)
	h.ClearTruncated = true
	got, wire := serve(t, h, query("big.marathon.l4lb.thisdcos.directory.", dns.TypeA), false)
	if got.Truncated || wire > dns.MinMsgSize || len(got.Answer) == 0 || len(got.Answer) >= 200 {
		t.Errorf("TC %v, %d bytes, %d answers: want the answer cut to 512 bytes without TC", got.Truncated, wire, len(got.Answer))
	}
}
