package dataplane

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/google/nftables"
)

// scaleVIPs and scaleBackends are the size the data plane must install in
// one batch; scaleVIPs6 IPv6 VIPs check that the largest elements (IPv6
// keys) still fit MaxElementsPerMessage into one netlink message.
const (
	scaleVIPs     = 10000
	scaleBackends = 3
	scaleVIPs6    = 2000
)

// scaleServices6 returns n IPv6 UDP VIPs fd01:c::1:<i>, each with k
// backends.
func scaleServices6(n, k int) []Service {
	out := make([]Service, 0, n)
	for i := range n {
		a := netip.AddrFrom16([16]byte{0xfd, 1, 0, 0xc, 14: byte(i >> 8), 15: byte(i)})
		s := Service{Key: vip.Key{Protocol: vip.ProtoUDP, IP: a, Port: 53}}
		for j := range k {
			b := netip.AddrFrom16([16]byte{0xfd, 1, 0, 0xb, 12: byte(j), 14: byte(i >> 8), 15: byte(i)})
			s.Backends = append(s.Backends, vip.Backend{IP: b, Port: 5353, Healthy: true})
		}
		out = append(out, s)
	}
	return out
}

// scaleServices returns n TCP VIPs 11.1.x.y:80, each with k backends
// 9.<1+j>.x.y:8080 (j < k).
func scaleServices(n, k int) []Service {
	out := make([]Service, 0, n)
	for i := range n {
		s := Service{Key: vip.Key{Protocol: vip.ProtoTCP, IP: netip.AddrFrom4([4]byte{11, 1, byte(i >> 8), byte(i)}), Port: 80}}
		for j := range k {
			s.Backends = append(s.Backends, vip.Backend{IP: netip.AddrFrom4([4]byte{9, byte(1 + j), byte(i >> 8), byte(i)}), Port: 8080, Healthy: true})
		}
		out = append(out, s)
	}
	return out
}

func TestPrivilegedScale(t *testing.T) {
	netsim.Privileged(t, "nft", "ip")
	f := netsim.NewFabric(t, "l4lbsc")
	node, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	h, err := node.NetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	k := NewNFTables(nftables.WithNetNSFd(int(h.Fd())))
	p := mustBuild(t, append(scaleServices(scaleVIPs, scaleBackends), scaleServices6(scaleVIPs6, scaleBackends)...)...)

	s := NewSyncer(k, nil)
	start := time.Now()
	res, err := s.Apply(p)
	if err != nil {
		t.Fatalf("install %d VIPs of %d backends: %v", scaleVIPs, scaleBackends, err)
	}
	t.Logf("installed %d VIPs x %d backends in %v: %+v", scaleVIPs, scaleBackends, time.Since(start), res)

	// Read back: the kernel holds every element.
	for _, fam := range Families {
		cur, err := k.Read(fam)
		if err != nil || !cur.Present || !cur.Intact {
			t.Fatalf("read back %s: present %t intact %t, %v", fam, cur.Present, cur.Intact, err)
		}
		if c := Diff(p.Tables[fam], cur.State); !c.Empty() {
			t.Errorf("%s read back differs from the plan by %d operations, first:\n%.500s", fam, c.Count(), c)
		}
		wantVIPs := map[Family]int{IPv4: scaleVIPs, IPv6: scaleVIPs6}[fam]
		if n, m := len(cur.VIPs), len(cur.Backends); n != wantVIPs || m != wantVIPs*scaleBackends {
			t.Errorf("%s read back %d VIPs and %d backends, want %d and %d", fam, n, m, wantVIPs, wantVIPs*scaleBackends)
		}
	}
	out, err := node.Run(context.Background(), "nft", "list", "map", "ip", TableName, mapBackends)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, " : 9."); n != scaleVIPs*scaleBackends {
		t.Errorf("nft list map backends shows %d elements, want %d", n, scaleVIPs*scaleBackends)
	}

	// Removing every VIP is one batch too.
	if _, err := s.Apply(mustBuild(t)); err != nil {
		t.Fatalf("remove %d VIPs: %v", scaleVIPs, err)
	}
	if res, err := s.Reconcile(mustBuild(t)); err != nil || res[0].Changes != 0 {
		t.Errorf("Reconcile after removing all = %+v, %v; want nothing left to do", res, err)
	}
}
