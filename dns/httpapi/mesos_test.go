package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/internal/fixtures"
)

type fakeSnapshot struct {
	rs     records.RecordSet
	serial uint32
}

func (f *fakeSnapshot) Snapshot() (*records.RecordSet, uint32) { return &f.rs, f.serial }

// fixtureAPI serves the records of the fixture master state.
func fixtureAPI(t *testing.T) (http.Handler, string) {
	t.Helper()
	dir := fixtures.Dir(t, "mesos")
	f, err := os.Open(filepath.Join(dir, "master-state.json"))
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
	cfg := dnsapi.MesosConfig{Masters: []string{"1.2.3.4:5050"}, RefreshSeconds: 5, TTL: 5, Port: 61053, Domain: "mesos",
		SOAMname: "ns.spartan.", SOARname: "support.mesosphere.com.", HTTPPort: 8123, DNSOn: true, HTTPOn: true,
		IPSources: records.DefaultIPSources}
	return NewMesos("v1.2.3", cfg, &fakeSnapshot{rs: rs, serial: 42}, nil, nil).Handler(), dir
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

func TestMesosAPI(t *testing.T) {
	h, _ := fixtureAPI(t)
	for _, tc := range []struct{ path, want string }{
		{"/v1/version", `{"Service":"Mesos-DNS","URL":"https://github.com/dcnet/dcnet","Version":"v1.2.3"}`},
		{"/v1/hosts/leader.mesos", `[{"host":"leader.mesos.","ip":"1.2.3.4"}]`},
		{"/v1/hosts/Leader.Mesos.", `[{"host":"leader.mesos.","ip":"1.2.3.4"}]`},
		{"/v1/hosts/nope.mesos", `[{"host":"","ip":""}]`},
		{"/v1/services/_leader._tcp.mesos", `[{"service":"_leader._tcp.mesos","host":"leader.mesos.","ip":"1.2.3.4","port":"5050"}]`},
		{"/v1/services/_nope._tcp.mesos.", `[{"service":"","host":"","ip":"","port":""}]`},
	} {
		code, body := get(t, h, tc.path)
		if code != http.StatusOK || body != tc.want {
			t.Errorf("%s: %d\n%s\nwant\n%s", tc.path, code, body, tc.want)
		}
	}
	if code, _ := get(t, h, "/v1/hosts/leader.mesos/ports"); code != http.StatusNotImplemented {
		t.Errorf("/ports: %d, want 501", code)
	}
	_, body := get(t, h, "/v1/config")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Masters", "RefreshSeconds", "TTL", "Port", "Domain", "Resolvers", "SOAMname", "HttpPort", "DnsOn", "HttpOn", "IPSources"} {
		if _, ok := cfg[k]; !ok {
			t.Errorf("/v1/config lacks Mesos-DNS field %q: %s", k, body)
		}
	}
}

// TestMesosAXFRShape: /v1/axfr has the fields and record maps of a real
// Mesos-DNS answer, and the fixture state's records.
func TestMesosAXFRShape(t *testing.T) {
	h, dir := fixtureAPI(t)
	real, err := os.ReadFile(filepath.Join(dir, "mesos-dns-axfr.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, h, "/v1/axfr")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	var want, got map[string]json.RawMessage
	if err := json.Unmarshal(real, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if k1, k2 := sortedKeys(want), sortedKeys(got); !slices.Equal(k1, k2) {
		t.Errorf("top-level fields %v, Mesos-DNS has %v", k2, k1)
	}
	var wantRecs, gotRecs map[string]map[string][]string
	json.Unmarshal(want["Records"], &wantRecs)
	if err := json.Unmarshal(got["Records"], &gotRecs); err != nil {
		t.Fatalf("Records: %v", err)
	}
	if k1, k2 := sortedKeys(wantRecs), sortedKeys(gotRecs); !slices.Equal(k1, k2) {
		t.Errorf("record maps %v, Mesos-DNS has %v", k2, k1)
	}
	var a dnsapi.AXFR
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if a.Serial != 42 || a.Domain != "mesos" || a.TTL != 5 {
		t.Errorf("serial %d domain %q ttl %d", a.Serial, a.Domain, a.TTL)
	}
	if got := a.Records.As["leader.mesos."]; !slices.Equal(got, []string{"1.2.3.4"}) {
		t.Errorf("As[leader.mesos.] = %v", got)
	}
	if got := a.Records.SRVs["_leader._tcp.mesos."]; !slices.Equal(got, []string{"leader.mesos.:5050"}) {
		t.Errorf("SRVs[_leader._tcp.mesos.] = %v", got)
	}
	if got := a.Records.AAAAs["toy-store.ipv6-framework.mesos."]; len(got) != 1 {
		t.Errorf("AAAAs[toy-store.ipv6-framework.mesos.] = %v, want one address", got)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestAXFRETag: /v1/axfr carries the zone's serial as its ETag and answers
// 304 with no body to a request naming it; EnumerationOn false drops it.
func TestAXFRETag(t *testing.T) {
	h, _ := fixtureAPI(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/axfr", nil))
	if etag := rec.Header().Get("ETag"); rec.Code != http.StatusOK || etag != `"42"` {
		t.Fatalf("%d, ETag %q", rec.Code, etag)
	}
	req := httptest.NewRequest("GET", "/v1/axfr", nil)
	req.Header.Set("If-None-Match", `"42"`)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
	req.Header.Set("If-None-Match", `"41"`)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: %d", rec.Code)
	}
	api := NewMesos("v", dnsapi.MesosConfig{}, &fakeSnapshot{}, nil, nil)
	api.NoAXFR = true
	if code, _ := get(t, api.Handler(), "/v1/axfr"); code != http.StatusNotFound {
		t.Errorf("without enumeration: %d, want 404", code)
	}
}
