package dataplane

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/l4lb/vip"
)

func TestDiff(t *testing.T) {
	before, _ := Build([]Service{
		{Key: ipKey("tcp", "11.0.0.1", 80), Backends: []vip.Backend{be("9.0.1.2:80"), be("9.0.1.3:80"), be("9.0.1.4:80")}},
		{Key: ipKey("udp", "11.0.0.9", 53), Backends: []vip.Backend{be("9.0.1.2:53")}},
	})
	after, _ := Build([]Service{
		{Key: ipKey("tcp", "11.0.0.1", 80), Backends: []vip.Backend{be("9.0.1.2:80"), be("9.0.1.4:80")}},
		{Key: ipKey("udp", "11.0.0.9", 53), Backends: []vip.Backend{be("9.0.1.2:53")}},
	})
	got := Diff(after.Tables[IPv4], before.Tables[IPv4]).String()
	want := `add chain lb-2
del vips 11.0.0.1 . tcp . 80 : jump lb-3
del backends 11.0.0.1 . tcp . 80 . 1 : 9.0.1.3 . 80
del backends 11.0.0.1 . tcp . 80 . 2 : 9.0.1.4 . 80
add backends 11.0.0.1 . tcp . 80 . 1 : 9.0.1.4 . 80
add vips 11.0.0.1 . tcp . 80 : jump lb-2
del chain lb-3
`
	if got != want {
		t.Errorf("Diff =\n%s\nwant\n%s", got, want)
	}
	if c := Diff(after.Tables[IPv4], after.Tables[IPv4]); !c.Empty() {
		t.Errorf("Diff of equal states = %v", c)
	}
}

func TestChunks(t *testing.T) {
	for _, tc := range []struct{ n, size, want int }{{0, 500, 0}, {1, 500, 1}, {500, 500, 1}, {501, 500, 2}, {10000, 500, 20}, {3, 0, 3}} {
		elems := make([]int, tc.n)
		chunks := Chunks(elems, tc.size)
		total := 0
		for _, c := range chunks {
			total += len(c)
			if len(c) > max(tc.size, 1) || len(c) == 0 {
				t.Errorf("Chunks(%d, %d): chunk of %d", tc.n, tc.size, len(c))
			}
		}
		if len(chunks) != tc.want || total != tc.n {
			t.Errorf("Chunks(%d, %d) = %d chunks, %d elems; want %d chunks", tc.n, tc.size, len(chunks), total, tc.want)
		}
	}
}

func TestSyncFake(t *testing.T) {
	k := NewFake()
	p, _ := Build(testServices())
	res, err := Sync(k, p)
	if err != nil || !res[0].Rebuilt || !res[1].Rebuilt {
		t.Fatalf("first Sync = %+v, %v; want both rebuilt", res, err)
	}
	if !strings.Contains(k.String(), "ip vips 11.0.0.2 . tcp . 443 : jump novip\n") {
		t.Errorf("fake state lacks the novip VIP:\n%s", k)
	}
	batches := k.Batches
	if res, err := Sync(k, p); err != nil || res[0].Changes+res[1].Changes != 0 || k.Batches != batches {
		t.Errorf("second Sync = %+v, %v, %d batches; want nothing", res, err, k.Batches-batches)
	}

	// A deleted element is put back by one batch; a damaged table is rebuilt.
	want := k.String()
	delete(k.Tables[IPv4].Backends, SlotKey{ServiceKey: ServiceKey{Addr: netip.MustParseAddr("11.0.0.1"), Proto: protoTCP, Port: 80}, Slot: 1})
	if res, err := Sync(k, p); err != nil || res[0].Changes != 1 || res[0].Rebuilt {
		t.Errorf("repair Sync = %+v, %v; want one change", res, err)
	}
	k.Tables[IPv6].Intact = false
	if res, err := Sync(k, p); err != nil || !res[1].Rebuilt {
		t.Errorf("damage Sync = %+v, %v; want rebuild", res, err)
	}
	if got := k.String(); got != want {
		t.Errorf("after repair:\n%s\nwant\n%s", got, want)
	}

	// Draining every backend moves the VIP to novip and drops lb chains.
	p2, _ := Build([]Service{{Key: ipKey("tcp", "11.0.0.1", 80)}})
	if _, err := Sync(k, p2); err != nil {
		t.Fatal(err)
	}
	if got, want := k.String(), "ip table dcnet-l4lb\nip vips 11.0.0.1 . tcp . 80 : jump novip\nip6 table dcnet-l4lb\n"; got != want {
		t.Errorf("after shrink:\n%s\nwant\n%s", got, want)
	}

	k.Fail = errors.New("boom")
	if _, err := Sync(k, p); err == nil {
		t.Error("Sync on a failing kernel succeeded")
	}
}
