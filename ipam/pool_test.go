package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// seq returns n consecutive addresses starting at from.
func seq(from string, n int) []string {
	a := netip.MustParseAddr(from)
	out := make([]string, n)
	for i := range out {
		out[i] = a.String()
		a = a.Next()
	}
	return out
}

func TestFindFree(t *testing.T) {
	type result struct {
		Addr           string
		InUse, Visited int
	}
	tests := []struct {
		name   string
		rng    Range
		cursor string
		taken  []string // addresses of network dcos
		others []string // keys of other networks, "network addr"
		want   result
	}{
		{"IPv6 /80 empty", rng(testSubnet6, ""), "", nil, nil,
			result{"fd01:b::3:0:0:2", 0, 2}},
		{"IPv6 /80 1000 taken", rng(testSubnet6, ""), "", seq("fd01:b::3:0:0:2", 1000), nil,
			result{"fd01:b::3:0:0:3ea", 1000, 1002}},
		{"IPv6 /80 cursor at last host wraps", rng(testSubnet6, ""), "fd01:b::3:ffff:ffff:fffe", nil, nil,
			result{"fd01:b::3:0:0:2", 0, 2}},
		{"IPv6 /80 search from cursor", rng(testSubnet6, ""), "fd01:b::3:0:1:0", seq("fd01:b::3:0:0:2", 10), nil,
			result{"fd01:b::3:0:1:1", 0, 1}},
		{"IPv4 taken to the end wraps", rng("9.0.3.0/29", ""), "9.0.3.3", seq("9.0.3.4", 3), nil,
			result{"9.0.3.2", 3, 5}},
		{"IPv4 cursor outside subnet", rng("9.0.3.0/29", ""), "10.0.0.1", nil, nil,
			result{"9.0.3.2", 0, 2}},
		{"IPv4 cursor on gateway", rng("9.0.3.0/29", "9.0.3.4"), "9.0.3.4", nil, nil,
			result{"9.0.3.5", 0, 1}},
		{"IPv4 full", rng("9.0.3.0/29", ""), "9.0.3.4", seq("9.0.3.2", 5), nil,
			result{"invalid IP", 5, 6}},
		{"other networks and families ignored", rng("9.0.3.0/29", ""), "",
			seq("fd01:b::", 10), []string{"dcos2 9.0.3.2", "dco 9.0.3.2", "dcos2 9.0.3.3"},
			result{"9.0.3.2", 0, 2}},
		{"addresses outside the subnet ignored", rng("9.0.3.8/29", ""), "", append(seq("9.0.3.2", 6), seq("9.0.3.16", 6)...), nil,
			result{"9.0.3.10", 0, 2}},
	}
	s := openTest(t, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got search
			err := s.db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketAddresses)
				for _, a := range tt.taken {
					if err := b.Put(addressKey("dcos", netip.MustParseAddr(a)), []byte("x")); err != nil {
						return err
					}
				}
				for _, o := range tt.others {
					network, a, _ := strings.Cut(o, " ")
					if err := b.Put(addressKey(network, netip.MustParseAddr(a)), []byte("x")); err != nil {
						return err
					}
				}
				cursor, _ := netip.ParseAddr(tt.cursor)
				got = findFree(b, "dcos", tt.rng.hosts(), cursor)
				return errRollback
			})
			if err != errRollback {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, result{got.addr.String(), got.inUse, got.visited}); diff != "" {
				t.Errorf("findFree (-want +got):\n%s", diff)
			}
			if got.visited > got.inUse+2 {
				t.Errorf("visited %d candidates with %d in use, want at most %d", got.visited, got.inUse, got.inUse+2)
			}
			if size := 1 << (tt.rng.Subnet.Addr().BitLen() - tt.rng.Subnet.Bits()); size > 0 && got.visited > size {
				t.Errorf("visited %d candidates in a subnet of %d", got.visited, size)
			}
		})
	}
}

// errRollback undoes a test transaction.
var errRollback = errors.New("rollback")

func TestLastAddr(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"9.0.3.0/24", "9.0.3.255"},
		{"9.0.0.0/8", "9.255.255.255"},
		{"9.0.3.8/29", "9.0.3.15"},
		{"9.0.3.4/32", "9.0.3.4"},
		{"0.0.0.0/0", "255.255.255.255"},
		{"fd01:b::3:0:0:0/80", "fd01:b::3:ffff:ffff:ffff"},
		{"fd01:b::/125", "fd01:b::7"},
		{"fd01:b::/61", "fd01:b:0:7:ffff:ffff:ffff:ffff"},
		{"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tt := range tests {
		if got := lastAddr(netip.MustParsePrefix(tt.prefix)).String(); got != tt.want {
			t.Errorf("lastAddr(%s) = %s, want %s", tt.prefix, got, tt.want)
		}
	}
}
