package alloc

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/dcnet/dcnet/internal/etcdtest"
)

func TestLeaseVTEPAndRemoveNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	ctx := context.Background()
	rng := netip.MustParsePrefix("44.128.0.0/20")
	const nodes = 20
	got := make([]netip.Addr, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], errs[i] = LeaseVTEP(ctx, s, fmt.Sprintf("n%d", i), rng, netip.Addr{})
		}(i)
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, a := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[a] || a == rng.Addr() {
			t.Fatalf("vtep %s given twice or is the network address", a)
		}
		seen[a] = true
	}
	if !seen[netip.MustParseAddr("44.128.0.1")] || seen[netip.MustParseAddr("44.128.0.21")] {
		t.Fatalf("want the lowest 20 addresses from 44.128.0.1, got %v", got)
	}
	// Same node, same address; also for IPv6.
	again, _ := LeaseVTEP(ctx, s, "n3", rng, netip.Addr{})
	if again != got[3] {
		t.Fatalf("n3 got %s back, want %s", again, got[3])
	}
	v6, err := LeaseVTEP(ctx, s, "n3", netip.MustParsePrefix("fd01:a::/64"), netip.Addr{})
	if err != nil || v6 != netip.MustParseAddr("fd01:a::1") {
		t.Fatalf("ipv6 vtep %s %v", v6, err)
	}
	if _, err := LeaseSubnet(ctx, s, "dcos", "n3", netip.MustParsePrefix("9.0.0.0/8"), 24, netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	n, err := RemoveNode(ctx, s, "n3")
	if err != nil || n != 3 {
		t.Fatalf("remove n3: removed %d keys (%v), want 3 (vtep, vtep6, subnet)", n, err)
	}
	// Its address is free again and goes to the next node asking.
	if a, _ := LeaseVTEP(ctx, s, "newcomer", rng, netip.Addr{}); a != got[3] {
		t.Fatalf("newcomer got %s, want the freed %s", a, got[3])
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{"44.128.0.0/20": "44.128.15.255", "10.0.0.0/8": "10.255.255.255", "fd01:a::/64": "fd01:a::ffff:ffff:ffff:ffff"} {
		if got := lastAddr(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("lastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}
