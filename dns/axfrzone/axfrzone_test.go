package axfrzone

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/internal/dnstest"
	"github.com/dcnet/dcnet/internal/fixtures"
)

func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures.Dir(t, "mesos"), "mesos-dns-axfr.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDCOSDNSExpectations feeds the zone a real DC/OS Mesos-DNS /v1/axfr
// answer and asks it what dcos-net's apps/dcos_dns/test/
// dcos_dns_mesos_dns_tests.erl asks: each name answers exactly the one
// record listed there.
func TestDCOSDNSExpectations(t *testing.T) {
	rs, err := Parse(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Warnings) > 0 {
		t.Errorf("warnings on a real answer: %v", rs.Warnings)
	}
	h := server.NewHandler(nil, nil, server.NewRecordSetZone(Zone, &rs))
	name := func(app, fw string) string { return app + "." + fw + "." + Zone }
	srv := func(port, app string) string { return "_" + port + "._" + app + "._tcp.marathon." + Zone }
	for _, tt := range []struct {
		name  string
		qtype uint16
		want  string // the one answer's data
	}{
		{"marathon." + Zone, dns.TypeA, "172.17.0.4"},
		{name("none-on-host", "marathon"), dns.TypeA, "172.17.0.5"},
		{srv("http", "none-on-host"), dns.TypeSRV, "0 0 31775 none-on-host-5geu6-s0.marathon.mesos.thisdcos.directory."},
		{name("none-on-dcos", "marathon"), dns.TypeA, "172.17.0.5"},
		{name("ucr-on-host", "marathon"), dns.TypeA, "172.17.0.5"},
		{srv("http", "ucr-on-host"), dns.TypeSRV, "0 0 5463 ucr-on-host-is6by-s0.marathon.mesos.thisdcos.directory."},
		{name("ucr-on-bridge", "marathon"), dns.TypeA, "172.17.0.6"},
		{srv("http", "ucr-on-bridge"), dns.TypeSRV, "0 0 18236 ucr-on-bridge-w5ijk-s1.marathon.mesos.thisdcos.directory."},
		{name("ucr-on-dcos", "marathon"), dns.TypeA, "172.17.0.6"},
		{name("docker-on-host", "marathon"), dns.TypeA, "172.17.0.6"},
		{srv("http", "docker-on-host"), dns.TypeSRV, "0 0 12018 docker-on-host-b4xya-s1.marathon.mesos.thisdcos.directory."},
		{name("docker-on-bridge", "marathon"), dns.TypeA, "172.17.0.5"},
		{srv("http", "docker-on-bridge"), dns.TypeSRV, "0 0 23866 docker-on-bridge-7qzpn-s0.marathon.mesos.thisdcos.directory."},
		{name("docker-on-dcos", "marathon"), dns.TypeA, "172.17.0.5"},
		{name("docker-on-ipv6", "marathon"), dns.TypeAAAA, "fd01:b::2:8000:0:2"},
		{name("pod-on-host", "marathon"), dns.TypeA, "172.17.0.6"},
		{srv("http", "pod-on-host"), dns.TypeSRV, "0 0 11462 pod-on-host-au4ax-s1.marathon.mesos.thisdcos.directory."},
		{name("pod-on-bridge", "marathon"), dns.TypeA, "172.17.0.5"},
		{srv("http", "pod-on-bridge"), dns.TypeSRV, "0 0 7699 pod-on-bridge-5aknw-s0.marathon.mesos.thisdcos.directory."},
		{name("pod-on-dcos", "marathon"), dns.TypeA, "172.17.0.5"},
		{name("hello-world", "marathon"), dns.TypeA, "172.17.0.5"},
		{srv("api", "hello-world"), dns.TypeSRV, "0 0 9453 hello-world-b6r7e-s0.marathon.mesos.thisdcos.directory."},
		{name("world-0-server", "hello-world"), dns.TypeA, "172.17.0.5"},
		{name("world-1-server", "hello-world"), dns.TypeA, "172.17.0.6"},
		{name("hello-0-server", "hello-world"), dns.TypeA, "172.17.0.6"},
	} {
		m := dnstest.Ask(t, h, tt.name, tt.qtype)
		var got []string
		for _, rr := range m.Answer {
			got = append(got, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
		if d := cmp.Diff([]string{tt.want}, got); d != "" || m.Rcode != dns.RcodeSuccess {
			t.Errorf("%s %s: rcode %s, -want +got:\n%s", tt.name, dns.TypeToString[tt.qtype], dns.RcodeToString[m.Rcode], d)
		}
	}
	// The apex answers its SOA, as dcos-dns's zone has one.
	if m := dnstest.Ask(t, h, Zone, dns.TypeSOA); len(m.Answer) != 1 {
		t.Errorf("SOA %v", m.Answer)
	}
	// Every name of the answer is there, renamed.
	if got, want := rs.Len(), 126; got != want {
		t.Errorf("%d records, want the %d of the answer", got, want)
	}
}

func TestParseLeavesOutWhatCannotBeServed(t *testing.T) {
	rs, err := Parse([]byte(`{"Domain":"mesos","Records":{
		"As":{"a.marathon.mesos.":["10.0.0.1","fd01::1","x"],"other.example.":["10.0.0.2"]},
		"AAAAs":{"a.marathon.mesos.":["10.0.0.3","fd01::2"]},
		"SRVs":{"_a._tcp.marathon.mesos.":["a.marathon.mesos.:80","a.marathon.mesos.","b.example.:1",":1","a.marathon.mesos.:99999"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a.marathon.mesos.thisdcos.directory.": {"10.0.0.1"}}
	if d := cmp.Diff(want, rs.Strings(1)); d != "" {
		t.Errorf("A -want +got:\n%s", d)
	}
	if got := rs.Strings(33)["_a._tcp.marathon.mesos.thisdcos.directory."]; !cmp.Equal(got, []string{"a.marathon.mesos.thisdcos.directory.:80"}) {
		t.Errorf("SRV %v", got)
	}
	if len(rs.Warnings) != 8 {
		t.Errorf("%d warnings, want 8: %q", len(rs.Warnings), rs.Warnings)
	}
	if _, err := Parse([]byte(`{"Records": [`)); err == nil {
		t.Error("bad JSON parsed")
	}
}

// TestPoller: the first URL is down, the second answers; an ETag makes
// the next poll a 304; a server without ETags gets the same bytes, which
// are not parsed again; a bad answer keeps the last good zone.
func TestPoller(t *testing.T) {
	body := fixture(t)
	var gets, notModified atomic.Int32
	etag := `"1522195185"`
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		if r.URL.Path != "/v1/axfr" {
			http.NotFound(w, r)
			return
		}
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		if etag != "" && r.Header.Get("If-None-Match") == etag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(body)
	}))
	defer good.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", 500) }))
	defer down.Close()
	zone := server.NewRecordSetZone(Zone, nil)
	p := NewPoller(Config{URLs: []string{down.URL + "/v1/axfr", good.URL + "/v1/axfr"}}, zone, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if n := zone.RecordSet().Len(); n != 126 {
		t.Fatalf("%d records served", n)
	}
	if err := p.Poll(ctx); err != nil || notModified.Load() != 1 {
		t.Fatalf("second poll: %v, %d not modified (the good server is asked first now)", err, notModified.Load())
	}
	if gets.Load() != 2 {
		t.Errorf("%d GETs of the good server, want 2", gets.Load())
	}
	// Unchanged bytes without ETag: the set is not replaced.
	etag = ""
	before := zone.RecordSet()
	if err := p.Poll(ctx); err != nil || zone.RecordSet() != before {
		t.Errorf("unchanged answer: %v, set replaced %v", err, zone.RecordSet() != before)
	}
	body = []byte("not json")
	if err := p.Poll(ctx); err == nil || zone.RecordSet() != before {
		t.Errorf("bad answer: %v, last good kept %v", err, zone.RecordSet() == before)
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.1": "http://10.0.0.1:8123/v1/axfr", "10.0.0.1:61053": "http://10.0.0.1:8123/v1/axfr",
		"[fd01::1]:61053": "http://[fd01::1]:8123/v1/axfr", "fd01::1": "http://[fd01::1]:8123/v1/axfr"} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: any answer parses or is refused, and every name served is
// inside the zone.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Domain":"mesos","Records":{"As":{"a.mesos.":["1.2.3.4"]},"SRVs":{"_a._tcp.mesos.":["a.mesos.:1"]}}}`))
	f.Add([]byte(`{"Domain":"x.y.","Records":{"AAAAs":{"A.X.Y.":["::1"]}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		rs, err := Parse(doc)
		if err != nil {
			return
		}
		for _, n := range rs.Names() {
			if !strings.HasSuffix(n, "."+Zone) || n != strings.ToLower(n) {
				t.Fatalf("name %q served", n)
			}
		}
	})
}
