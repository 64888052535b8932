package daemon

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/vip"
)

// TestProgrammedEndpoint: /v1/programmed/<ip> answers from the addresses
// of the last plan applied: 204 for a VIP address of either family (an
// IPv4-mapped IPv6 spelling included), 404 for any other address, 503
// before the first sync, 400 for what is not an address.
func TestProgrammedEndpoint(t *testing.T) {
	store, err := cluster.Connect(cluster.Options{Endpoints: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d, err := New(Options{Store: store, Kernel: dataplane.NewFake(), Node: "n1", SyncInterval: time.Second, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if code := programmedCode(d, "11.0.0.1"); code != http.StatusServiceUnavailable {
		t.Errorf("before any sync: %d, want 503 (cannot tell: the last run's tables may be in the kernel)", code)
	}
	b4 := vip.Backend{IP: netip.MustParseAddr("9.0.1.2"), Port: 80, Healthy: true}
	b6 := vip.Backend{IP: netip.MustParseAddr("fd01:b::2"), Port: 80, Healthy: true}
	plan, errs := dataplane.Build([]dataplane.Service{
		{Key: vip.Key{Protocol: vip.ProtoTCP, Name: "web.marathon.l4lb.thisdcos.directory", Port: 80},
			Addr: netip.MustParseAddr("11.0.0.1"), Backends: []vip.Backend{b4}},
		{Key: vip.Key{Protocol: vip.ProtoTCP, Name: "web.marathon.l4lb.thisdcos.directory", Port: 80},
			Addr: netip.MustParseAddr("fd01:c::1"), Backends: []vip.Backend{b6}},
		{Key: vip.Key{Protocol: vip.ProtoUDP, IP: netip.MustParseAddr("1.2.3.4"), Port: 53}, Backends: []vip.Backend{b4}},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d.programmed, d.syncs = programmedAddrs(plan), 1
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", l4lbapi.PathProgrammed+"11.0.0.9", nil))
	if rec.Code != http.StatusNotFound || rec.Header().Get(l4lbapi.HeaderProgrammed) != "no" {
		t.Errorf("not programmed: %d with %s %q, want 404 with %q (dcnet-dns tells it from a missing route by it)",
			rec.Code, l4lbapi.HeaderProgrammed, rec.Header().Get(l4lbapi.HeaderProgrammed), "no")
	}
	for _, tt := range []struct {
		ip   string
		want int
	}{
		{"11.0.0.1", http.StatusNoContent},
		{"::ffff:11.0.0.1", http.StatusNoContent},
		{"fd01:c::1", http.StatusNoContent},
		{"fd01:c:0:0::1", http.StatusNoContent},
		{"1.2.3.4", http.StatusNoContent},
		{"11.0.0.2", http.StatusNotFound},
		{"9.0.1.2", http.StatusNotFound},
		{"fd01:c::2", http.StatusNotFound},
		{"web.marathon.l4lb.thisdcos.directory", http.StatusBadRequest},
		{"11.0.0.1:80", http.StatusBadRequest},
		{"fe80::1%25eth0", http.StatusBadRequest},
		{"", http.StatusNotFound}, // no {ip}: no route
	} {
		if got := programmedCode(d, tt.ip); got != tt.want {
			t.Errorf("GET %s%s: %d, want %d", l4lbapi.PathProgrammed, tt.ip, got, tt.want)
		}
	}
}
