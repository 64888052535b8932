package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
)

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// testHandler has every zone: spartan, thisnode, l4lb (static), the task
// names and the mesos zone built from the fixture state.
func testHandler(t testing.TB, fwd Forwarder) *Handler {
	t.Helper()
	f, err := os.Open("../../../shared/fixtures/mesos/master-state.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := mesos.ParseState(f)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := records.Generate(st, records.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	tn, err := records.TaskNames(st, records.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var big []dns.RR
	for i := range 200 {
		big = append(big, AddrRR("big.marathon.l4lb.thisdcos.directory.", netip.AddrFrom4([4]byte{11, 0, byte(i / 250), byte(i%250 + 1)})))
	}
	l4lb := NewStaticZone(L4LBZone, append(big,
		AddrRR("web.marathon.l4lb.thisdcos.directory.", netip.MustParseAddr("11.0.0.1")),
		AddrRR("web.marathon.l4lb.thisdcos.directory.", netip.MustParseAddr("fd01:c::1")),
		mustRR(t, "alias.l4lb.thisdcos.directory. 5 IN CNAME web.marathon.l4lb.thisdcos.directory."),
	)...)
	return NewHandler(nil, fwd,
		NewSpartan(netip.MustParseAddr("198.51.100.1")),
		NewThisNode(netip.MustParseAddr("10.0.0.2")),
		l4lb,
		NewRecordSetZone(TaskZone, &tn),
		NewRecordSetZone(MesosZone, &rs),
	)
}

// answerText renders a response's sections without the SOA serial.
func answerText(m *dns.Msg) []string {
	var out []string
	out = append(out, "rcode "+dns.RcodeToString[m.Rcode]+fmt.Sprintf(" aa=%v tc=%v", m.Authoritative, m.Truncated))
	for _, rr := range m.Answer {
		out = append(out, "an "+rrText(rr))
	}
	for _, rr := range m.Ns {
		out = append(out, "ns "+rrText(rr))
	}
	for _, rr := range m.Extra {
		out = append(out, "ar "+rrText(rr))
	}
	return out
}

func rrText(rr dns.RR) string {
	if soa, ok := rr.(*dns.SOA); ok {
		c := *soa
		c.Serial = 0
		rr = &c
	}
	return strings.ReplaceAll(rr.String(), "\t", " ")
}

func TestZones(t *testing.T) {
	h := testHandler(t, nil)
	soa := func(zone string) string {
		return "ns " + zone + " 5 IN SOA ns.spartan. support.mesosphere.com. 0 60 180 86400 5"
	}
	tests := []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"ready.spartan.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an ready.spartan. 5 IN A 127.0.0.1"}},
		{"READY.Spartan.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an ready.spartan. 5 IN A 127.0.0.1"}},
		{"ready.spartan.", dns.TypeAAAA, []string{"rcode NOERROR aa=true tc=false", soa("spartan.")}},
		{"ns.spartan.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an ns.spartan. 5 IN A 198.51.100.1"}},
		{"nope.spartan.", dns.TypeA, []string{"rcode NXDOMAIN aa=true tc=false", soa("spartan.")}},
		{"thisnode.thisdcos.directory.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an thisnode.thisdcos.directory. 5 IN A 10.0.0.2"}},
		{"thisnode.thisdcos.directory.", dns.TypeAAAA, []string{"rcode NOERROR aa=true tc=false", soa("thisnode.thisdcos.directory.")}},
		{"thisnode.thisdcos.directory.", dns.TypeSOA, []string{"rcode NOERROR aa=true tc=false", "an thisnode.thisdcos.directory. 5 IN SOA ns.spartan. support.mesosphere.com. 0 60 180 86400 5"}},
		{"thisnode.thisdcos.directory.", dns.TypeNS, []string{"rcode NOERROR aa=true tc=false", "an thisnode.thisdcos.directory. 5 IN NS ns.spartan."}},
		{"x.thisnode.thisdcos.directory.", dns.TypeA, []string{"rcode NXDOMAIN aa=true tc=false", soa("thisnode.thisdcos.directory.")}},
		{"web.marathon.l4lb.thisdcos.directory.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an web.marathon.l4lb.thisdcos.directory. 5 IN A 11.0.0.1"}},
		{"web.marathon.l4lb.thisdcos.directory.", dns.TypeAAAA, []string{"rcode NOERROR aa=true tc=false", "an web.marathon.l4lb.thisdcos.directory. 5 IN AAAA fd01:c::1"}},
		{"web.marathon.l4lb.thisdcos.directory.", dns.TypeSRV, []string{"rcode NOERROR aa=true tc=false", soa("l4lb.thisdcos.directory.")}},
		{"alias.l4lb.thisdcos.directory.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an alias.l4lb.thisdcos.directory. 5 IN CNAME web.marathon.l4lb.thisdcos.directory.",
			"an web.marathon.l4lb.thisdcos.directory. 5 IN A 11.0.0.1"}},
		{"alias.l4lb.thisdcos.directory.", dns.TypeCNAME, []string{"rcode NOERROR aa=true tc=false", "an alias.l4lb.thisdcos.directory. 5 IN CNAME web.marathon.l4lb.thisdcos.directory."}},
		{"gone.marathon.l4lb.thisdcos.directory.", dns.TypeA, []string{"rcode NXDOMAIN aa=true tc=false", soa("l4lb.thisdcos.directory.")}},
		{"l4lb.thisdcos.directory.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", soa("l4lb.thisdcos.directory.")}},
		{"leader.mesos.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an leader.mesos. 5 IN A 1.2.3.4"}},
		{"leader.mesos.", dns.TypeAAAA, []string{"rcode NOERROR aa=true tc=false", soa("mesos.")}},
		{"_leader._tcp.mesos.", dns.TypeSRV, []string{"rcode NOERROR aa=true tc=false", "an _leader._tcp.mesos. 5 IN SRV 0 0 5050 leader.mesos."}},
		{"nosuchtask.marathon.mesos.", dns.TypeA, []string{"rcode NXDOMAIN aa=true tc=false", soa("mesos.")}},
		{"nosuch.marathon.agentip.dcos.thisdcos.directory.", dns.TypeA, []string{"rcode NXDOMAIN aa=true tc=false", soa("dcos.thisdcos.directory.")}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			got, _ := serve(t, h, query(tt.name, tt.qtype), false)
			if d := cmp.Diff(tt.want, answerText(got)); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
}

// TestGeneratedNames asks the handler for every generated name and type
// and compares with the record set.
func TestGeneratedNames(t *testing.T) {
	h := testHandler(t, nil)
	for _, zone := range h.zones {
		rz, ok := zone.(*RecordSetZone)
		if !ok {
			continue
		}
		rs := rz.rs.Load()
		if len(rs.Names()) == 0 {
			t.Fatalf("zone %s: no records from the fixture", zone.Name())
		}
		for _, name := range rs.Names() {
			for _, qt := range []records.Type{records.TypeA, records.TypeAAAA, records.TypeSRV} {
				want, _ := rs.Lookup(name, qt)
				got, _ := serve(t, h, query(name, uint16(qt)), true)
				if got.Rcode != dns.RcodeSuccess || len(got.Answer) != len(want) {
					t.Errorf("%s %s: rcode %s, %d answers, want NOERROR and %d", name, qt, dns.RcodeToString[got.Rcode], len(got.Answer), len(want))
				}
				if len(want) == 0 && len(got.Ns) != 1 {
					t.Errorf("%s %s: NODATA without SOA", name, qt)
				}
			}
		}
	}
}

func TestTaskNames(t *testing.T) {
	h := testHandler(t, nil)
	for _, zone := range h.zones {
		if zone.Name() != TaskZone {
			continue
		}
		names := zone.(*RecordSetZone).rs.Load().Names()
		var kinds []string
		for _, n := range names {
			for _, k := range []string{records.KindAgentIP, records.KindContainerIP, records.KindAutoIP} {
				if strings.HasSuffix(n, "."+k+"."+TaskZone) && !slices.Contains(kinds, k) {
					kinds = append(kinds, k)
				}
			}
		}
		slices.Sort(kinds)
		if d := cmp.Diff([]string{"agentip", "autoip", "containerip"}, kinds); d != "" {
			t.Errorf("task name kinds -want +got:\n%s", d)
		}
		got, _ := serve(t, h, query(names[0], dns.TypeA), false)
		if len(got.Answer) == 0 || !got.Authoritative {
			t.Errorf("%s: %v", names[0], answerText(got))
		}
	}
}

func TestEDNS0(t *testing.T) {
	h := testHandler(t, nil)
	req := query("ready.spartan.", dns.TypeA)
	req.SetEdns0(4096, true)
	got, _ := serve(t, h, req, false)
	opt := got.IsEdns0()
	if opt == nil {
		t.Fatalf("no OPT in answer to an EDNS0 query: %v", got)
	}
	if opt.UDPSize() != AdvertisedUDPSize || opt.Version() != 0 {
		t.Errorf("OPT size %d version %d, want %d 0", opt.UDPSize(), opt.Version(), AdvertisedUDPSize)
	}
	if len(got.Answer) != 1 {
		t.Errorf("answers %v", got.Answer)
	}
	plain, _ := serve(t, h, query("ready.spartan.", dns.TypeA), false)
	if plain.IsEdns0() != nil {
		t.Errorf("OPT in answer to a plain query")
	}
	bad := query("ready.spartan.", dns.TypeA)
	bad.SetEdns0(1232, false)
	bad.IsEdns0().SetVersion(1)
	got, _ = serve(t, h, bad, false)
	if got.Rcode != dns.RcodeBadVers {
		t.Errorf("EDNS version 1: rcode %s, want BADVERS", dns.RcodeToString[got.Rcode])
	}
}

func TestTruncation(t *testing.T) {
	h := testHandler(t, nil)
	const name = "big.marathon.l4lb.thisdcos.directory."
	for _, tt := range []struct {
		desc   string
		tcp    bool
		edns   uint16
		limit  int
		wantTC bool
	}{
		{"udp", false, 0, dns.MinMsgSize, true},
		{"udp edns 1232", false, 1232, 1232, true},
		{"udp edns 300 means 512", false, 300, dns.MinMsgSize, true},
		{"udp edns 65000", false, 65000, 65000, false},
		{"tcp", true, 0, dns.MaxMsgSize, false},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			req := query(name, dns.TypeA)
			if tt.edns > 0 {
				req.SetEdns0(tt.edns, false)
			}
			got, wire := serve(t, h, req, tt.tcp)
			if got.Truncated != tt.wantTC {
				t.Errorf("TC %v, want %v", got.Truncated, tt.wantTC)
			}
			if wire > tt.limit {
				t.Errorf("%d bytes, limit %d", wire, tt.limit)
			}
			if !tt.wantTC && len(got.Answer) != 200 {
				t.Errorf("%d answers, want all 200", len(got.Answer))
			}
			if tt.wantTC && (len(got.Answer) == 0 || len(got.Answer) >= 200) {
				t.Errorf("%d answers in a truncated response", len(got.Answer))
			}
			if (tt.edns > 0) != (got.IsEdns0() != nil) {
				t.Errorf("OPT present %v, want %v", got.IsEdns0() != nil, tt.edns > 0)
			}
		})
	}
}

// fakeForwarder answers from a fixed response or fails.
type fakeForwarder struct {
	resp *dns.Msg
	err  error
	got  []string
}

func (f *fakeForwarder) Forward(_ context.Context, req *dns.Msg) (*dns.Msg, error) {
	f.got = append(f.got, req.Question[0].Name)
	if f.err != nil {
		return nil, f.err
	}
	r := f.resp.Copy()
	r.SetReply(req)
	r.Answer = f.resp.Answer
	r.Id = 9999 // the handler must put the client's ID back
	return r, nil
}

func TestForwarded(t *testing.T) {
	fwd := &fakeForwarder{resp: &dns.Msg{Answer: []dns.RR{mustRR(t, "example.com. 300 IN A 93.184.216.34")}}}
	h := testHandler(t, fwd)
	got, _ := serve(t, h, query("example.com.", dns.TypeA), false)
	if d := cmp.Diff([]string{"rcode NOERROR aa=false tc=false", "an example.com. 300 IN A 93.184.216.34"}, answerText(got)); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	if !got.RecursionAvailable {
		t.Errorf("RA not set")
	}
	// Local zones never reach the forwarder.
	serve(t, h, query("ready.spartan.", dns.TypeA), false)
	serve(t, h, query("nope.mesos.", dns.TypeA), false)
	if d := cmp.Diff([]string{"example.com."}, fwd.got); d != "" {
		t.Errorf("forwarded -want +got:\n%s", d)
	}
}

func TestForwardFailureIsServfail(t *testing.T) {
	h := testHandler(t, &fakeForwarder{err: errors.New("all upstreams failed")})
	req := query("example.com.", dns.TypeA)
	got, _ := serve(t, h, req, false)
	if got.Rcode != dns.RcodeServerFailure || len(got.Question) != 1 || got.Question[0] != req.Question[0] {
		t.Errorf("got %v, want SERVFAIL with the question", got)
	}
	none := testHandler(t, nil)
	got, _ = serve(t, none, req, false)
	if got.Rcode != dns.RcodeRefused {
		t.Errorf("no forwarder: rcode %s, want REFUSED", dns.RcodeToString[got.Rcode])
	}
}

func TestBadQueries(t *testing.T) {
	h := testHandler(t, nil)
	two := query("ready.spartan.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	if got, _ := serve(t, h, two, false); got.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", dns.RcodeToString[got.Rcode])
	}
	upd := query("ready.spartan.", dns.TypeA)
	upd.Opcode = dns.OpcodeUpdate
	if got, _ := serve(t, h, upd, false); got.Rcode != dns.RcodeNotImplemented {
		t.Errorf("update: %s, want NOTIMP", dns.RcodeToString[got.Rcode])
	}
	ch := query("ready.spartan.", dns.TypeTXT)
	ch.Question[0].Qclass = dns.ClassCHAOS
	if got, _ := serve(t, h, ch, false); got.Rcode != dns.RcodeRefused {
		t.Errorf("chaos class: %s, want REFUSED", dns.RcodeToString[got.Rcode])
	}
}

func TestRecordSetZoneSet(t *testing.T) {
	z := NewRecordSetZone("mesos", nil)
	h := NewHandler(nil, nil, z)
	if got, _ := serve(t, h, query("leader.mesos.", dns.TypeA), false); got.Rcode != dns.RcodeNameError {
		t.Fatalf("empty zone: %s", dns.RcodeToString[got.Rcode])
	}
	z.Set(&records.RecordSet{A: map[string][]netip.Addr{"leader.mesos.": {netip.MustParseAddr("10.0.0.1")}}})
	if got, _ := serve(t, h, query("leader.mesos.", dns.TypeA), false); len(got.Answer) != 1 {
		t.Fatalf("after Set: %v", answerText(got))
	}
}
