package dataplane

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func be(s string) vip.Backend {
	ap := netip.MustParseAddrPort(s)
	return vip.Backend{IP: ap.Addr(), Port: ap.Port(), Healthy: true}
}

func ipKey(proto, addr string, port uint16) vip.Key {
	return vip.Key{Protocol: proto, IP: netip.MustParseAddr(addr), Port: port}
}

// testServices covers IPv4 and IPv6, TCP and UDP on one port, a draining
// and an unhealthy backend, weights, a named VIP and a VIP with no backend.
func testServices() []Service {
	draining, sick := be("9.0.1.9:80"), be("9.0.1.8:80")
	draining.Draining, sick.Healthy = true, false
	return []Service{
		{Key: ipKey("tcp", "11.0.0.1", 80), Backends: []vip.Backend{be("9.0.1.3:80"), be("9.0.1.2:80"), draining, sick, be("9.0.1.2:80")}},
		{Key: ipKey("udp", "11.0.0.1", 80), Backends: []vip.Backend{be("9.0.1.2:80")}},
		{Key: vip.Key{Protocol: "tcp", Name: "web.marathon.l4lb.thisdcos.directory", Port: 8080}, Addr: netip.MustParseAddr("11.0.0.7"),
			Backends: []vip.Backend{be("9.0.2.2:31000"), be("9.0.3.2:31000")},
			Weights:  map[netip.AddrPort]int{netip.MustParseAddrPort("9.0.2.2:31000"): 4, netip.MustParseAddrPort("9.0.3.2:31000"): 2}},
		{Key: ipKey("tcp", "11.0.0.2", 443), Backends: []vip.Backend{draining}},
		{Key: ipKey("tcp", "fd01:c::5", 80), Backends: []vip.Backend{be("[fd01:b::2]:80"), be("[fd01:b::3]:8080")}},
	}
}

func TestBuild(t *testing.T) {
	p, errs := Build(testServices())
	if errs != nil {
		t.Fatalf("Build: %v", errs)
	}
	k := func(a string, proto uint8, port uint16) ServiceKey {
		return ServiceKey{Addr: netip.MustParseAddr(a), Proto: proto, Port: port}
	}
	sk := func(s ServiceKey, slot uint32) SlotKey { return SlotKey{ServiceKey: s, Slot: slot} }
	ap := netip.MustParseAddrPort
	tcp80, udp80, web, empty := k("11.0.0.1", 6, 80), k("11.0.0.1", 17, 80), k("11.0.0.7", 6, 8080), k("11.0.0.2", 6, 443)
	v6 := k("fd01:c::5", 6, 80)
	want := Plan{Tables: [2]State{
		IPv4: {
			Chains: []int{1, 2, 3},
			VIPs:   map[ServiceKey]int{tcp80: 2, udp80: 1, web: 3, empty: 0},
			Backends: map[SlotKey]netip.AddrPort{
				sk(tcp80, 0): ap("9.0.1.2:80"), sk(tcp80, 1): ap("9.0.1.3:80"),
				sk(udp80, 0): ap("9.0.1.2:80"),
				sk(web, 0):   ap("9.0.2.2:31000"), sk(web, 1): ap("9.0.2.2:31000"), sk(web, 2): ap("9.0.3.2:31000"),
			},
		},
		IPv6: {
			Chains:   []int{2},
			VIPs:     map[ServiceKey]int{v6: 2},
			Backends: map[SlotKey]netip.AddrPort{sk(v6, 0): ap("[fd01:b::2]:80"), sk(v6, 1): ap("[fd01:b::3]:8080")},
		},
	}}
	if d := cmp.Diff(want.Tables, p.Tables, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); d != "" {
		t.Errorf("Build (-want +got):\n%s", d)
	}
}

func TestBuildErrors(t *testing.T) {
	many := make([]vip.Backend, 0, MaxSlots+1)
	for i := range MaxSlots + 1 {
		many = append(many, be(netip.AddrPortFrom(netip.AddrFrom4([4]byte{9, 1, byte(i >> 8), byte(i)}), 80).String()))
	}
	_, errs := Build([]Service{
		{Key: ipKey("sctp", "11.0.0.1", 80)},
		{Key: vip.Key{Protocol: "tcp", Name: "x.marathon.l4lb.thisdcos.directory", Port: 80}},
		{Key: ipKey("tcp", "11.0.0.1", 80), Backends: []vip.Backend{be("[fd01:b::2]:80")}},
		{Key: ipKey("tcp", "11.0.0.3", 80), Backends: many},
	})
	if len(errs) != 4 {
		t.Errorf("Build errors = %v, want 4", errs)
	}
}

func TestRenderGolden(t *testing.T) {
	p, errs := Build(testServices())
	if errs != nil {
		t.Fatal(errs)
	}
	got := Render(p)
	path := filepath.Join("testdata", "ruleset.nft")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("Render (-%s +got):\n%s", path, d)
	}
}
