package ipam

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testTime is the clock of test stores.
var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// openTest opens a store in a fresh directory, closed at the end of the test.
// noSync skips fsync, for tests where durability is not the point.
func openTest(t testing.TB, noSync bool) *Store {
	t.Helper()
	s, err := open(filepath.Join(t.TempDir(), "state", "ipam.db"), &bolt.Options{Timeout: time.Second, NoSync: noSync})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return testTime }
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// rng returns the range of subnet with the gateway gw ("" for the first host).
func rng(subnet, gw string) Range {
	p := netip.MustParsePrefix(subnet)
	g := p.Addr().Next()
	if gw != "" {
		g = netip.MustParseAddr(gw)
	}
	return Range{Subnet: p, Gateway: g}
}

// pool returns the pool of network over subnets, each with its first host as gateway.
func pool(network string, subnets ...string) Pool {
	p := Pool{Network: network}
	for _, s := range subnets {
		p.Ranges = append(p.Ranges, rng(s, ""))
	}
	return p
}

// req returns a request for interface eth0 of container in network.
func req(network, container string) Request {
	return Request{ID: ID{Network: network, ContainerID: container, IfName: "eth0"}}
}

// mustAllocate allocates r from p and fails the test on error.
func mustAllocate(t testing.TB, s *Store, p Pool, r Request) Attachment {
	t.Helper()
	att, _, err := s.Allocate(p, r)
	if err != nil {
		t.Fatal(err)
	}
	return att
}

// addrs returns the plain addresses of att.
func addrs(t testing.TB, att Attachment) []string {
	t.Helper()
	var out []string
	for _, ip := range att.IPs {
		p, err := netip.ParsePrefix(ip.Address)
		if err != nil {
			t.Fatalf("attachment %s: %v", att.ID, err)
		}
		out = append(out, p.Addr().String())
	}
	return out
}

// checkInvariants verifies the store against the pools its attachments came
// from: every address lies in a range of its network's pool with the range's
// prefix length and gateway, is not reserved, is held by one attachment only,
// and is indexed in the addresses bucket, which holds nothing else; List is
// sorted and agrees with Count.
func checkInvariants(t testing.TB, s *Store, pools ...Pool) {
	t.Helper()
	atts, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(); err != nil || n != len(atts) {
		t.Fatalf("Count() = %d, %v; List has %d", n, err, len(atts))
	}
	if !slices.IsSortedFunc(atts, func(a, b Attachment) int {
		return strings.Compare(string(attachmentKey(a.ID)), string(attachmentKey(b.ID)))
	}) {
		t.Errorf("List is not sorted: %v", atts)
	}
	byNetwork := map[string]Pool{}
	for _, p := range pools {
		byNetwork[p.Network] = p
	}
	seen := map[string]ID{}
	err = s.db.View(func(tx *bolt.Tx) error {
		index := tx.Bucket(bucketAddresses)
		for _, a := range atts {
			for _, ip := range a.IPs {
				checkIP(t, a.ID, ip, byNetwork[a.Network])
				p, _ := netip.ParsePrefix(ip.Address)
				name := a.Network + " " + p.Addr().String()
				if other, dup := seen[name]; dup {
					t.Errorf("address %s held by %s and %s", name, other, a.ID)
				}
				seen[name] = a.ID
				if got := index.Get(addressKey(a.Network, p.Addr())); !bytes.Equal(got, attachmentKey(a.ID)) {
					t.Errorf("address %s indexed to %q, want %s", name, got, a.ID)
				}
			}
		}
		if n := index.Stats().KeyN; n != len(seen) {
			t.Errorf("addresses bucket has %d keys, attachments hold %d addresses", n, len(seen))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkIP verifies one address of attachment id against pool p.
func checkIP(t testing.TB, id ID, ip IP, p Pool) {
	t.Helper()
	pfx, err := netip.ParsePrefix(ip.Address)
	if err != nil {
		t.Errorf("attachment %s: %v", id, err)
		return
	}
	a := pfx.Addr()
	for _, r := range p.Ranges {
		if !r.Subnet.Contains(a) {
			continue
		}
		if pfx.Bits() != r.Subnet.Bits() || ip.Gateway != r.Gateway.String() {
			t.Errorf("attachment %s: ip %+v does not match range %s via %s", id, ip, r.Subnet, r.Gateway)
		}
		if a == r.Subnet.Addr() || a == r.Gateway || a == lastAddr(r.Subnet) {
			t.Errorf("attachment %s: reserved address %s of subnet %s handed out", id, a, r.Subnet)
		}
		return
	}
	t.Errorf("attachment %s: address %s is in no range of network %q", id, a, p.Network)
}
