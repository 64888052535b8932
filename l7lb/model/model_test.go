package model

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSortRoutes(t *testing.T) {
	rs := []Route{
		{Backend: "any"},
		{Host: "*.example.com", Backend: "wild"},
		{Host: "web.example.com", Backend: "web"},
		{Host: "web.example.com", PathPrefix: "/api", Backend: "api"},
		{PathPrefix: "/static", Backend: "static"},
	}
	SortRoutes(rs)
	var got []string
	for _, r := range rs {
		got = append(got, r.Backend)
	}
	want := []string{"api", "web", "wild", "static", "any"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("route order (-want +got):\n%s", diff)
	}
}

func TestNormalize(t *testing.T) {
	ap := netip.MustParseAddrPort
	c := Config{
		Backends: []Backend{
			{Name: "b", Servers: []Server{{Key: "t2", Addr: ap("9.0.0.3:80")}, {Key: "t1", Addr: ap("9.0.0.2:80")}}},
			{Name: "a", Balance: "leastconn"},
		},
		Problems: []Problem{{Kind: "app", Name: "/z", Reason: "r"}, {Kind: "app", Name: "/a", Reason: "r"}},
	}
	c.Normalize()
	if c.Backends[0].Name != "a" || c.Backends[0].Balance != "leastconn" || c.Backends[1].Balance != "roundrobin" {
		t.Errorf("backends not sorted or defaulted: %+v", c.Backends)
	}
	if c.Backends[1].Servers[0].Key != "t1" || c.Backends[1].Servers[0].Weight != DefaultWeight {
		t.Errorf("servers not sorted: %+v", c.Backends[1].Servers)
	}
	if c.Problems[0].Name != "/a" {
		t.Errorf("problems not sorted: %+v", c.Problems)
	}
	if b, ok := c.Backend("b"); !ok || b.Name != "b" {
		t.Errorf("Backend(b) = %v, %v", b, ok)
	}
	if _, ok := c.Backend("c"); ok {
		t.Error("Backend(c) found")
	}
}

func TestBindStringRoundTrip(t *testing.T) {
	for _, b := range []netip.AddrPort{netip.AddrPortFrom(netip.Addr{}, 80), netip.MustParseAddrPort("10.0.0.1:443"), netip.MustParseAddrPort("[::1]:8080")} {
		back, err := ParseBind(BindString(b))
		if err != nil || back != b {
			t.Errorf("%v: %q -> %v %v", b, BindString(b), back, err)
		}
	}
	if _, err := ParseBind("*:http"); err == nil {
		t.Error("ParseBind(*:http) accepted")
	}
}
