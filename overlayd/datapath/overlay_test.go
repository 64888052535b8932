package datapath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testNode returns node n of a test cluster: underlay 198.18.x.y, VTEP
// 44.128.x.y/20 and fd01:a::n/64, subnets 9.x.y.0/24 and fd01:b::n:0:0:0/80.
func testNode(n int) (VTEP, Peer) {
	hi, lo := byte(n>>8), byte(n)
	vip := netip.AddrFrom4([4]byte{44, 128, hi, lo})
	vip6 := netip.MustParseAddr(fmt.Sprintf("fd01:a::%x", n))
	under := netip.AddrFrom4([4]byte{198, 18, hi, lo})
	v := VTEP{Name: "vtep1024", VNI: 1024, Port: 64000, MAC: VTEPMAC(vip),
		IP: netip.PrefixFrom(vip, 20), IP6: netip.PrefixFrom(vip6, 64), Local: under, MTU: 1450}
	p := Peer{Name: fmt.Sprintf("node%d", n), Underlay: under, VTEPIP: vip, VTEPIP6: vip6, MAC: VTEPMAC(vip),
		Subnets: []netip.Prefix{
			netip.PrefixFrom(netip.AddrFrom4([4]byte{9, hi, lo, 0}), 24),
			netip.MustParsePrefix(fmt.Sprintf("fd01:b::%x:0:0:0/80", n)),
		}}
	return v, p
}

func testPeers(ns ...int) []Peer {
	var ps []Peer
	for _, n := range ns {
		_, p := testNode(n)
		ps = append(ps, p)
	}
	return ps
}

func testVTEP(n int) *VTEP {
	v, _ := testNode(n)
	return &v
}

func TestVTEPMAC(t *testing.T) {
	for in, want := range map[string]string{
		"44.128.0.1":  "70:b3:d5:80:00:01",
		"44.128.15.2": "70:b3:d5:80:0f:02",
		"10.1.2.3":    "70:b3:d5:01:02:03",
	} {
		if got := VTEPMAC(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("VTEPMAC(%s) = %s, want %s", in, got, want)
		}
	}
	if got := VTEPMAC(netip.MustParseAddr("fd01:a::1")); got != nil {
		t.Errorf("VTEPMAC(IPv6) = %s, want nil", got)
	}
}

func TestVTEPValidate(t *testing.T) {
	ok := *testVTEP(1)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(*VTEP)
		want string
	}{
		{func(v *VTEP) { v.VNI = 0 }, "vni 0 out of range [1, 16777215]"},
		{func(v *VTEP) { v.Port = 70000 }, "port 70000 out of range"},
		{func(v *VTEP) { v.IP = netip.Prefix{} }, "not an IPv4 prefix"},
		{func(v *VTEP) { v.Local = netip.Addr{} }, "local underlay address missing"},
		{func(v *VTEP) { v.MAC = net.HardwareAddr{1} }, "not a 6-byte MAC"},
		{func(v *VTEP) { v.Name = "a-very-long-vtep-name" }, "1 to 15 characters"},
	} {
		v := ok
		tc.edit(&v)
		if err := v.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
	}
	v := ok
	v.MAC = nil
	if got := v.HardwareAddr().String(); got != "70:b3:d5:80:00:01" {
		t.Errorf("default MAC %s", got)
	}
}

func TestPlanPeers(t *testing.T) {
	v4only := testVTEP(1)
	v4only.IP6 = netip.Prefix{}
	noMAC := testPeers(3)[0]
	noMAC.MAC = nil
	for _, tc := range []struct {
		name  string
		vtep  *VTEP
		self  string
		peers []Peer
		want  []string
	}{
		{name: "nil vtep", vtep: nil, peers: testPeers(2), want: []string{}},
		{
			name: "self skipped by name, VTEP IP and underlay", vtep: testVTEP(1), self: "node1",
			peers: append(testPeers(1, 2), Peer{Name: "me-again", VTEPIP: netip.MustParseAddr("44.128.0.1"), Underlay: netip.MustParseAddr("198.18.9.9")},
				Peer{Name: "me-underlay", VTEPIP: netip.MustParseAddr("44.128.0.9"), Underlay: netip.MustParseAddr("198.18.0.1")}),
			want: []string{
				"fdb 70:b3:d5:80:00:02 dst 198.18.0.2 dev vtep1024",
				"neigh 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"neigh fd01:a::2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"route 9.0.2.0/24 via 44.128.0.2 dev vtep1024 onlink",
				"route fd01:b:0:0:2::/80 via fd01:a::2 dev vtep1024 onlink",
			},
		},
		{
			name: "no IPv6 on our side: no IPv6 neigh or route", vtep: v4only, peers: testPeers(2),
			want: []string{
				"fdb 70:b3:d5:80:00:02 dst 198.18.0.2 dev vtep1024",
				"neigh 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"route 9.0.2.0/24 via 44.128.0.2 dev vtep1024 onlink",
			},
		},
		{
			name: "MAC defaults to VTEPMAC, unmasked subnet masked, incomplete peer skipped", vtep: v4only,
			peers: []Peer{
				{Name: "x", VTEPIP: noMAC.VTEPIP, Underlay: noMAC.Underlay, Subnets: []netip.Prefix{netip.MustParsePrefix("9.0.3.7/24")}},
				{Name: "no-underlay", VTEPIP: netip.MustParseAddr("44.128.0.4")},
			},
			want: []string{
				"fdb 70:b3:d5:80:00:03 dst 198.18.0.3 dev vtep1024",
				"neigh 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 permanent",
				"route 9.0.3.0/24 via 44.128.0.3 dev vtep1024 onlink",
			},
		},
		{
			name: "duplicate VTEP IP and subnet: first by VTEP IP, then name, wins", vtep: v4only,
			peers: []Peer{
				{Name: "b", VTEPIP: netip.MustParseAddr("44.128.0.2"), Underlay: netip.MustParseAddr("198.18.0.22"), Subnets: []netip.Prefix{netip.MustParsePrefix("9.0.2.0/24")}},
				{Name: "a", VTEPIP: netip.MustParseAddr("44.128.0.2"), Underlay: netip.MustParseAddr("198.18.0.2"), Subnets: []netip.Prefix{netip.MustParsePrefix("9.0.2.0/24")}},
				{Name: "c", VTEPIP: netip.MustParseAddr("44.128.0.3"), Underlay: netip.MustParseAddr("198.18.0.3"), Subnets: []netip.Prefix{netip.MustParsePrefix("9.0.2.0/24"), netip.MustParsePrefix("9.0.3.0/24")}},
			},
			want: []string{
				"fdb 70:b3:d5:80:00:02 dst 198.18.0.2 dev vtep1024",
				"fdb 70:b3:d5:80:00:03 dst 198.18.0.3 dev vtep1024",
				"neigh 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"neigh 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 permanent",
				"route 9.0.2.0/24 via 44.128.0.2 dev vtep1024 onlink",
				"route 9.0.3.0/24 via 44.128.0.3 dev vtep1024 onlink",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanPeers(tc.vtep, tc.self, tc.peers).Lines("vtep1024")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			// Deterministic whatever the order of peers.
			rev := slices.Clone(tc.peers)
			slices.Reverse(rev)
			if diff := cmp.Diff(got, PlanPeers(tc.vtep, tc.self, rev).Lines("vtep1024")); diff != "" {
				t.Errorf("plan depends on peer order:\n%s", diff)
			}
		})
	}
}

func TestDiffPeers(t *testing.T) {
	self := testVTEP(1)
	plan := func(peers []Peer) PeerState { return PlanPeers(self, "node1", peers) }
	moved := testPeers(2, 3)
	moved[0].Underlay = netip.MustParseAddr("198.18.1.2")
	remac := testPeers(2, 3)
	remac[0].MAC = net.HardwareAddr{0x70, 0xb3, 0xd5, 0x80, 0x00, 0x99}
	resub := testPeers(2, 3)
	resub[1].Subnets = []netip.Prefix{netip.MustParsePrefix("9.0.33.0/24")}
	P, A := netip.MustParsePrefix, netip.MustParseAddr
	mac2 := VTEPMAC(A("44.128.0.2"))
	extra := plan(testPeers(2))
	extra.FDB = append(extra.FDB, FDBEntry{MAC: mac2, Dst: A("198.18.7.7")})
	extra.Routes = append(extra.Routes, Route{Dst: P("9.0.2.0/24"), Via: A("44.128.0.2"), OnLink: true, Metric: 100})
	extra.sort()
	wrongRoute := plan(testPeers(2))
	wrongRoute.Routes[0].OnLink = false
	learned := plan(testPeers(2))
	learned.FDB = []FDBEntry{{MAC: mac2, Dst: A("198.18.7.7")}, {MAC: mac2, Dst: A("198.18.7.8")}}
	learned.Neighs = append(learned.Neighs, Neigh{IP: A("44.128.0.200"), MAC: mac2})
	learned.sort()

	for _, tc := range []struct {
		name       string
		have, want PeerState
		lines      []string
	}{
		{name: "unchanged", have: plan(testPeers(2, 3)), want: plan(testPeers(2, 3))},
		{name: "self in the list is skipped", have: plan(testPeers(2)), want: plan(testPeers(1, 2))},
		{name: "empty", have: PeerState{}, want: plan(nil)},
		{
			name: "added peer", have: plan(testPeers(2)), want: plan(testPeers(2, 3)),
			lines: []string{
				"+ fdb 70:b3:d5:80:00:03 dst 198.18.0.3 dev vtep1024",
				"+ neigh 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 permanent",
				"+ neigh fd01:a::3 lladdr 70:b3:d5:80:00:03 dev vtep1024 permanent",
				"+ route 9.0.3.0/24 via 44.128.0.3 dev vtep1024 onlink",
				"+ route fd01:b:0:0:3::/80 via fd01:a::3 dev vtep1024 onlink",
			},
		},
		{
			name: "removed peer", have: plan(testPeers(2, 3)), want: plan(testPeers(3)),
			lines: []string{
				"- route 9.0.2.0/24 via 44.128.0.2 dev vtep1024 onlink",
				"- route fd01:b:0:0:2::/80 via fd01:a::2 dev vtep1024 onlink",
				"- neigh 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"- neigh fd01:a::2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"- fdb 70:b3:d5:80:00:02 dst 198.18.0.2 dev vtep1024",
			},
		},
		{
			name: "changed underlay: fdb replaced in place", have: plan(testPeers(2, 3)), want: plan(moved),
			lines: []string{"+ fdb 70:b3:d5:80:00:02 dst 198.18.1.2 dev vtep1024"},
		},
		{
			name: "changed MAC: neighbours replaced, new fdb, old fdb deleted", have: plan(testPeers(2, 3)), want: plan(remac),
			lines: []string{
				"+ fdb 70:b3:d5:80:00:99 dst 198.18.0.2 dev vtep1024",
				"+ neigh 44.128.0.2 lladdr 70:b3:d5:80:00:99 dev vtep1024 permanent",
				"+ neigh fd01:a::2 lladdr 70:b3:d5:80:00:99 dev vtep1024 permanent",
				"- fdb 70:b3:d5:80:00:02 dst 198.18.0.2 dev vtep1024",
			},
		},
		{
			name: "changed subnet", have: plan(testPeers(2, 3)), want: plan(resub),
			lines: []string{
				"+ route 9.0.33.0/24 via 44.128.0.3 dev vtep1024 onlink",
				"- route 9.0.3.0/24 via 44.128.0.3 dev vtep1024 onlink",
				"- route fd01:b:0:0:3::/80 via fd01:a::3 dev vtep1024 onlink",
			},
		},
		{
			name: "IPv6 only on the peer's side appears", have: plan(testPeers(2)),
			want: func() PeerState {
				ps := testPeers(2)
				ps[0].VTEPIP6 = A("fd01:a::22")
				return plan(ps)
			}(),
			lines: []string{
				"+ neigh fd01:a::22 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"+ route fd01:b:0:0:2::/80 via fd01:a::22 dev vtep1024 onlink",
				"- neigh fd01:a::2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
			},
		},
		{
			name: "extra fdb destination and route at another metric deleted", have: extra, want: plan(testPeers(2)),
			lines: []string{
				"- route 9.0.2.0/24 via 44.128.0.2 dev vtep1024 onlink metric 100",
				"- fdb 70:b3:d5:80:00:02 dst 198.18.7.7 dev vtep1024",
			},
		},
		{
			name: "route without onlink replaced", have: wrongRoute, want: plan(testPeers(2)),
			lines: []string{"+ route 9.0.2.0/24 via 44.128.0.2 dev vtep1024 onlink"},
		},
		{
			name: "two wrong fdb destinations and a stray neighbour", have: learned, want: plan(testPeers(2)),
			lines: []string{
				"+ fdb 70:b3:d5:80:00:02 dst 198.18.0.2 dev vtep1024",
				"- neigh 44.128.0.200 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
				"- fdb 70:b3:d5:80:00:02 dst 198.18.7.7 dev vtep1024",
				"- fdb 70:b3:d5:80:00:02 dst 198.18.7.8 dev vtep1024",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DiffPeers(tc.have, tc.want)
			if diff := cmp.Diff(tc.lines, c.Lines("vtep1024")); diff != "" {
				t.Errorf("diff (-want +got):\n%s", diff)
			}
			if c.Len() != len(tc.lines) {
				t.Errorf("Len() = %d, want %d", c.Len(), len(tc.lines))
			}
			// With the kernel's replace semantics the writes reach want.
			got, _ := applyChanges(tc.have, c)
			if diff := cmp.Diff(tc.want.Lines("vtep1024"), got.Lines("vtep1024")); diff != "" {
				t.Errorf("state after the writes (-want +got):\n%s", diff)
			}
		})
	}
}

func overlayWant(self int, peers ...int) Want {
	w := Plan(testLeases())
	w.VTEP = testVTEP(self)
	w.Self = fmt.Sprintf("node%d", self)
	w.Peers = testPeers(peers...)
	return w
}

func TestApplyOverlayFake(t *testing.T) {
	k := NewFake()
	w := overlayWant(1, 1, 2, 3)
	if _, err := Apply(k, w); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fdb 70:b3:d5:80:00:02 dst 198.18.0.2 dev vtep1024",
		"fdb 70:b3:d5:80:00:03 dst 198.18.0.3 dev vtep1024",
		"neigh 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
		"neigh 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 permanent",
		"neigh fd01:a::2 lladdr 70:b3:d5:80:00:02 dev vtep1024 permanent",
		"neigh fd01:a::3 lladdr 70:b3:d5:80:00:03 dev vtep1024 permanent",
		"route 9.0.2.0/24 via 44.128.0.2 dev vtep1024 onlink",
		"route 9.0.3.0/24 via 44.128.0.3 dev vtep1024 onlink",
		"route fd01:b:0:0:2::/80 via fd01:a::2 dev vtep1024 onlink",
		"route fd01:b:0:0:3::/80 via fd01:a::3 dev vtep1024 onlink",
		"vtep vtep1024 id 1024 port 64000 local 198.18.0.1 mac 70:b3:d5:80:00:01 addr 44.128.0.1/20 addr fd01:a::1/64 mtu 1450",
	}
	overlayLines := func() []string {
		var out []string
		for _, l := range strings.Split(k.String(), "\n") {
			if strings.HasPrefix(l, "fdb ") || strings.HasPrefix(l, "neigh ") || strings.HasPrefix(l, "route ") || strings.HasPrefix(l, "vtep ") {
				out = append(out, l)
			}
		}
		return out
	}
	if diff := cmp.Diff(want, overlayLines()); diff != "" {
		t.Fatalf("fake state (-want +got):\n%s", diff)
	}
	// Want renders the same lines as the fake.
	for _, l := range want {
		if !strings.Contains(w.String(), l+"\n") {
			t.Errorf("Want.String() lacks %q", l)
		}
	}
	if n, err := Apply(k, w); n != 0 || err != nil {
		t.Fatalf("second apply: %d changes, %v", n, err)
	}
	// Hand damage: a lost neighbour, a wrong fdb destination, a lost route.
	k.Peers.Neighs = k.Peers.Neighs[1:]
	k.Peers.FDB[0].Dst = netip.MustParseAddr("198.18.9.9")
	k.Peers.Routes = k.Peers.Routes[:len(k.Peers.Routes)-1]
	if n, err := Apply(k, w); n != 3 || err != nil {
		t.Fatalf("repair: %d changes, %v; want 3", n, err)
	}
	if diff := cmp.Diff(want, overlayLines()); diff != "" {
		t.Fatalf("after repair (-want +got):\n%s", diff)
	}
	// Node 3 departs: its five entries go.
	if n, err := Apply(k, overlayWant(1, 1, 2)); n != 5 || err != nil {
		t.Fatalf("departure: %d changes, %v; want 5", n, err)
	}
	if s := k.String(); strings.Contains(s, "80:00:03") || strings.Contains(s, "9.0.3.0") {
		t.Fatalf("departed peer left behind:\n%s", s)
	}
	// A changed port recreates the device, which drops and then reprograms
	// the peers.
	w2 := overlayWant(1, 2)
	w2.VTEP.Port = 4789
	if n, err := Apply(k, w2); err != nil || n != 6 || k.Recreated != 1 {
		t.Fatalf("recreate: %d changes (want 6), %v, recreated %d", n, err, k.Recreated)
	}
	// No VTEP: nothing of the overlay is touched.
	w3 := overlayWant(1, 2)
	w3.VTEP = nil
	if n, err := Apply(k, w3); n != 0 || err != nil {
		t.Fatalf("nil vtep: %d changes, %v", n, err)
	}
	k.Fail = errors.New("boom")
	if _, err := Apply(k, w2); err == nil {
		t.Fatal("errors must surface")
	}
}

func TestFakeEnsurePeersNeedsVTEP(t *testing.T) {
	k := NewFake()
	_, err := k.EnsurePeers(*testVTEP(1), PlanPeers(testVTEP(1), "", testPeers(2)))
	if !errors.Is(err, ErrNoVTEP) {
		t.Fatalf("want ErrNoVTEP, got %v", err)
	}
}
