package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/server"
)

func testAPI(t *testing.T) http.Handler {
	t.Helper()
	srv := func(s string) dns.RR {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	l4lb := server.NewStaticZone(server.L4LBZone,
		server.AddrRR("web.marathon.l4lb.thisdcos.directory.", netip.MustParseAddr("11.0.0.1")),
		server.AddrRR("web.marathon.l4lb.thisdcos.directory.", netip.MustParseAddr("fd01:c::1")))
	mesos := server.NewStaticZone("mesos.",
		srv("_web._tcp.marathon.mesos. 5 IN SRV 0 0 31000 web-a.marathon.slave.mesos."),
		srv("_web._tcp.marathon.mesos. 5 IN SRV 0 0 31001 gone.marathon.slave.mesos."),
		server.AddrRR("web-a.marathon.slave.mesos.", netip.MustParseAddr("10.0.0.4")))
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("# metrics\n")) })
	return New("v0.1.0", metrics, server.NewSpartan(), l4lb, mesos).Handler()
}

func TestAPI(t *testing.T) {
	h := testAPI(t)
	for _, tc := range []struct {
		path, want string
	}{
		{"/v1/version", `{"Service":"dcnet-dns","URL":"https://github.com/dcnet/dcnet","Version":"v0.1.0"}`},
		{"/v1/hosts/web.marathon.l4lb.thisdcos.directory", `[{"host":"web.marathon.l4lb.thisdcos.directory.","ip":"11.0.0.1"},{"host":"web.marathon.l4lb.thisdcos.directory.","ip":"fd01:c::1"}]`},
		{"/v1/hosts/READY.spartan.", `[{"host":"ready.spartan.","ip":"127.0.0.1"}]`},
		{"/v1/hosts/nope.mesos", `[{"host":"","ip":""}]`},
		{"/v1/hosts/example.com", `[{"host":"","ip":""}]`},
		{"/v1/services/_web._tcp.marathon.mesos", `[{"service":"_web._tcp.marathon.mesos.","host":"web-a.marathon.slave.mesos.","ip":"10.0.0.4","port":"31000"},` +
			`{"service":"_web._tcp.marathon.mesos.","host":"gone.marathon.slave.mesos.","ip":"","port":"31001"}]`},
		{"/v1/services/_nope._tcp.marathon.mesos", `[{"service":"","host":"","ip":"","port":""}]`},
		{"/v1/records", `[{"zone":"spartan.","name":"ready.spartan.","type":"A","ttl":5,"value":"127.0.0.1"},` +
			`{"zone":"l4lb.thisdcos.directory.","name":"web.marathon.l4lb.thisdcos.directory.","type":"A","ttl":5,"value":"11.0.0.1"},` +
			`{"zone":"l4lb.thisdcos.directory.","name":"web.marathon.l4lb.thisdcos.directory.","type":"AAAA","ttl":5,"value":"fd01:c::1"},` +
			`{"zone":"mesos.","name":"_web._tcp.marathon.mesos.","type":"SRV","ttl":5,"value":"web-a.marathon.slave.mesos.:31000"},` +
			`{"zone":"mesos.","name":"_web._tcp.marathon.mesos.","type":"SRV","ttl":5,"value":"gone.marathon.slave.mesos.:31001"},` +
			`{"zone":"mesos.","name":"web-a.marathon.slave.mesos.","type":"A","ttl":5,"value":"10.0.0.4"}]`},
		{"/metrics", "# metrics"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestAPINotFound(t *testing.T) {
	rec := httptest.NewRecorder()
	testAPI(t).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("status %d, want 404", rec.Code)
	}
}
