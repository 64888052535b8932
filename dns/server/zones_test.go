package server

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
)

// TestZK: dcos-dns's zk zone, zk-1.zk ... zk-5.zk, the masters repeated in
// order when fewer than five (dcos_dns_zk_record_server), with 1, 3 and 5
// masters, and the first five of more.
func TestZK(t *testing.T) {
	m := func(n int) []netip.Addr {
		var out []netip.Addr
		for i := range n {
			out = append(out, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}))
		}
		return out
	}
	for _, tt := range []struct {
		masters int
		want    []string // zk-1 ... zk-5
	}{
		{1, []string{"10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1"}},
		{3, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2"}},
		{5, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}},
		{7, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}},
	} {
		h := NewHandler(nil, nil, NewZK(m(tt.masters)...))
		var got []string
		for i := 1; i <= 5; i++ {
			resp, _ := serve(t, h, query("zk-"+string(rune('0'+i))+".zk.", dns.TypeA), false)
			if len(resp.Answer) != 1 {
				t.Fatalf("%d masters: zk-%d.zk answers %v", tt.masters, i, resp.Answer)
			}
			got = append(got, resp.Answer[0].(*dns.A).A.String())
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%d masters: -want +got:\n%s", tt.masters, d)
		}
		if resp, _ := serve(t, h, query("zk-6.zk.", dns.TypeA), false); resp.Rcode != dns.RcodeNameError {
			t.Errorf("zk-6.zk: %s", dns.RcodeToString[resp.Rcode])
		}
	}
	if resp, _ := serve(t, NewHandler(nil, nil, NewZK()), query("zk-1.zk.", dns.TypeA), false); resp.Rcode != dns.RcodeNameError {
		t.Errorf("no masters: zk-1.zk %s", dns.RcodeToString[resp.Rcode])
	}
}

func TestLocalhostAndPublic(t *testing.T) {
	h := NewHandler(nil, nil, NewLocalhost(), NewThisNodePublic([]netip.Addr{netip.MustParseAddr("10.0.1.5")},
		[]netip.Addr{netip.MustParseAddr("52.1.2.3"), netip.MustParseAddr("2001:db8::5")}))
	for _, tt := range []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"localhost.", dns.TypeA, []string{"localhost.\t5\tIN\tA\t127.0.0.1"}},
		{"thisnode.thisdcos.directory.", dns.TypeA, []string{"thisnode.thisdcos.directory.\t5\tIN\tA\t10.0.1.5"}},
		{"public.thisnode.thisdcos.directory.", dns.TypeA, []string{"public.thisnode.thisdcos.directory.\t5\tIN\tA\t52.1.2.3"}},
		{"public.thisnode.thisdcos.directory.", dns.TypeAAAA, []string{"public.thisnode.thisdcos.directory.\t5\tIN\tAAAA\t2001:db8::5"}},
	} {
		resp, _ := serve(t, h, query(tt.name, tt.qtype), false)
		var got []string
		for _, rr := range resp.Answer {
			got = append(got, strings.TrimSpace(rr.String()))
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s: -want +got:\n%s", tt.name, d)
		}
	}
}

// TestRenamedZone: a node polling the state itself serves the mesos.
// records under mesos.thisdcos.directory, owner names and SRV targets
// renamed, without a copy: a change of the inner zone shows at once.
func TestRenamedZone(t *testing.T) {
	rs, err := records.Generate(mesos.State{Leader: "master@10.0.0.1:5050"}, records.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	inner := NewRecordSetZone(MesosZone, &rs)
	z := NewRenamedZone("mesos.thisdcos.directory.", inner)
	h := NewHandler(nil, nil, z)
	for _, tt := range []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"leader.mesos.thisdcos.directory.", dns.TypeA, []string{"rcode NOERROR aa=true tc=false", "an leader.mesos.thisdcos.directory. 5 IN A 10.0.0.1"}},
		{"_leader._tcp.mesos.thisdcos.directory.", dns.TypeSRV, []string{"rcode NOERROR aa=true tc=false", "an _leader._tcp.mesos.thisdcos.directory. 5 IN SRV 0 0 5050 leader.mesos.thisdcos.directory."}},
		{"nope.mesos.thisdcos.directory.", dns.TypeA, []string{"rcode NXDOMAIN aa=true tc=false", "ns mesos.thisdcos.directory. 5 IN SOA ns.spartan. support.mesosphere.com. 0 60 180 86400 5"}},
	} {
		got, _ := serve(t, h, query(tt.name, tt.qtype), false)
		if d := cmp.Diff(tt.want, answerText(got)); d != "" {
			t.Errorf("%s: -want +got:\n%s", tt.name, d)
		}
	}
	if n := len(z.Records()); n != rs.Len() || !strings.HasSuffix(z.Records()[0].Header().Name, ".mesos.thisdcos.directory.") {
		t.Errorf("records %v", z.Records())
	}
	g := z.Generation()
	rs2, _ := records.Generate(mesos.State{Leader: "master@10.0.0.2:5050"}, records.DefaultConfig())
	inner.Set(&rs2)
	if got, _ := serve(t, h, query("leader.mesos.thisdcos.directory.", dns.TypeA), false); z.Generation() == g || got.Answer[0].(*dns.A).A.String() != "10.0.0.2" {
		t.Errorf("after the inner zone changed: generation %d (was %d), %v", z.Generation(), g, got.Answer)
	}
}
