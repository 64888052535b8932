package alloc

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/dcnet/dcnet/internal/etcdtest"
)

func TestLowestFree(t *testing.T) {
	P := netip.MustParsePrefix
	for _, tc := range []struct {
		rng  string
		bits int
		used []string
		want string
	}{
		{"9.0.0.0/8", 24, nil, "9.0.0.0/24"},
		{"9.0.0.0/8", 24, []string{"9.0.0.0/24"}, "9.0.1.0/24"},
		{"9.0.0.0/8", 24, []string{"9.0.1.0/24"}, "9.0.0.0/24"},
		{"9.0.0.0/8", 24, []string{"9.0.0.0/24", "9.0.1.0/24", "9.0.3.0/24"}, "9.0.2.0/24"},
		{"9.0.0.0/8", 24, []string{"9.0.0.0/16"}, "9.1.0.0/24"},
		{"9.0.0.0/8", 24, []string{"9.0.0.128/25"}, "9.0.1.0/24"},
		{"fd01:b::/64", 80, nil, "fd01:b::/80"},
		{"fd01:b::/64", 80, []string{"fd01:b::/80"}, "fd01:b::1:0:0:0/80"},
		{"10.0.0.0/30", 31, []string{"10.0.0.0/31", "10.0.0.2/31"}, ""},
	} {
		var used []netip.Prefix
		for _, u := range tc.used {
			used = append(used, P(u))
		}
		got, ok := LowestFree(P(tc.rng), tc.bits, used)
		if tc.want == "" {
			if ok {
				t.Errorf("LowestFree(%s,/%d,%v) = %s, want full", tc.rng, tc.bits, tc.used, got)
			}
			continue
		}
		if !ok || got != P(tc.want) {
			t.Errorf("LowestFree(%s,/%d,%v) = %s %v, want %s", tc.rng, tc.bits, tc.used, got, ok, tc.want)
		}
	}
}

func TestLeaseSubnetConcurrentNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	const nodes = 20
	rng := netip.MustParsePrefix("9.0.0.0/8")
	got := make([]netip.Prefix, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], errs[i] = LeaseSubnet(context.Background(), s, "dcos", fmt.Sprintf("node-%d", i), rng, 24, netip.Prefix{})
		}(i)
	}
	wg.Wait()
	seen := map[netip.Prefix]int{}
	for i, p := range got {
		if errs[i] != nil {
			t.Fatalf("node-%d: %v", i, errs[i])
		}
		if j, dup := seen[p]; dup {
			t.Fatalf("node-%d and node-%d both got %s", i, j, p)
		}
		seen[p] = i
	}
	for i := 0; i < nodes; i++ {
		p, err := LeaseSubnet(context.Background(), s, "dcos", fmt.Sprintf("node-%d", i), rng, 24, netip.Prefix{})
		if err != nil || p != got[i] {
			t.Fatalf("node-%d got %s back, want %s (%v)", i, p, got[i], err)
		}
	}
	// A full range is a clear error.
	_, err := LeaseSubnet(context.Background(), s, "tiny", "x", netip.MustParsePrefix("10.0.0.0/30"), 31, netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	LeaseSubnet(context.Background(), s, "tiny", "y", netip.MustParsePrefix("10.0.0.0/30"), 31, netip.Prefix{})
	if _, err := LeaseSubnet(context.Background(), s, "tiny", "z", netip.MustParsePrefix("10.0.0.0/30"), 31, netip.Prefix{}); err == nil {
		t.Fatal("third /31 in a /30 must fail")
	}
}
