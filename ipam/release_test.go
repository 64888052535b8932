package ipam

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRelease(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", testSubnet4, testSubnet6)
	att := mustAllocate(t, s, p, req("dcos", "c1"))
	other := mustAllocate(t, s, p, req("dcos", "c2"))

	got, released, err := s.Release(att.ID)
	if err != nil || !released {
		t.Fatalf("Release() released=%v err=%v, want released", released, err)
	}
	if diff := cmp.Diff(att, got); diff != "" {
		t.Errorf("released attachment (-want +got):\n%s", diff)
	}
	if _, found, err := s.Get(att.ID); err != nil || found {
		t.Errorf("Get() after Release: found=%v err=%v, want absent", found, err)
	}
	checkInvariants(t, s, p) // fails if the addresses of c1 stayed indexed

	got, released, err = s.Release(att.ID)
	if err != nil || released || got.ContainerID != "" {
		t.Errorf("second Release() = %+v, %v, %v; want nothing released, no error", got, released, err)
	}
	if _, _, err := s.Release(ID{Network: "dcos"}); err == nil {
		t.Error("Release of an ID without containerID succeeded, want error")
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Attachment{other}, list); diff != "" {
		t.Errorf("List after Release (-want +got):\n%s", diff)
	}
}

func TestReleasedAddressNotReusedAtOnce(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", testSubnet4, testSubnet6)
	a := mustAllocate(t, s, p, req("dcos", "a"))
	if _, _, err := s.Release(a.ID); err != nil {
		t.Fatal(err)
	}
	b := mustAllocate(t, s, p, req("dcos", "b"))
	for i := range a.IPs {
		if a.IPs[i].Address == b.IPs[i].Address {
			t.Errorf("address %s of released a handed to b at once", a.IPs[i].Address)
		}
	}
}

func TestRoundRobinWraps(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", "9.0.3.0/29") // .2 to .6
	for i := range 5 {
		mustAllocate(t, s, p, req("dcos", fmt.Sprint("c", i)))
	}
	for _, c := range []string{"c3", "c1"} { // free .5, then .3
		if _, _, err := s.Release(req("dcos", c).ID); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, c := range []string{"x", "y"} {
		got = append(got, addrs(t, mustAllocate(t, s, p, req("dcos", c)))...)
	}
	// The cursor is at .6, the end: the search wraps and finds .3 first.
	if diff := cmp.Diff([]string{"9.0.3.3", "9.0.3.5"}, got); diff != "" {
		t.Errorf("addresses after wrap (-want +got):\n%s", diff)
	}
	checkInvariants(t, s, p)
}

func TestGC(t *testing.T) {
	id := func(network, container, ifName string) ID {
		return ID{Network: network, ContainerID: container, IfName: ifName}
	}
	all := []ID{
		id("a", "c1", "eth0"), id("a", "c2", "eth0"), id("a", "c2", "eth1"),
		id("ab", "c1", "eth0"), id("b", "c1", "eth0"),
	}
	tests := []struct {
		name    string
		network string
		valid   []ID
		want    []ID // released
	}{
		{"keep all", "a", all, nil},
		{"keep none", "a", nil, all[:3]},
		{"keep one interface", "a", []ID{id("a", "c2", "eth1")}, all[:2]},
		{"valid IDs of other networks ignored", "a", []ID{id("b", "c1", "eth0"), id("a", "c1", "eth0")}, all[1:3]},
		{"network is not a prefix match", "ab", nil, all[3:4]},
		{"unknown network", "zz", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, true)
			pools := map[string]Pool{}
			for _, n := range []string{"a", "ab", "b"} {
				pools[n] = pool(n, testSubnet4)
			}
			for _, i := range all {
				mustAllocate(t, s, pools[i.Network], Request{ID: i})
			}
			released, err := s.GC(tt.network, "", tt.valid)
			if err != nil {
				t.Fatal(err)
			}
			var got []ID
			for _, a := range released {
				got = append(got, a.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			left, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(left)+len(released) != len(all) {
				t.Errorf("%d attachments left and %d released, want %d in all", len(left), len(released), len(all))
			}
			checkInvariants(t, s, pools["a"], pools["ab"], pools["b"])
		})
	}
	if _, err := openTest(t, true).GC("", "", nil); err == nil {
		t.Error("GC without network succeeded, want error")
	}
}

func TestListSorted(t *testing.T) {
	s := openTest(t, true)
	ids := []ID{ // in the wanted order
		{Network: "a", ContainerID: "c", IfName: "eth0"},
		{Network: "a", ContainerID: "c", IfName: "eth1"},
		{Network: "a", ContainerID: "c0", IfName: "eth0"},
		{Network: "a-b", ContainerID: "a", IfName: "eth0"},
		{Network: "ab", ContainerID: "a", IfName: "eth0"},
		{Network: "b", ContainerID: "a", IfName: "eth0"},
	}
	for i := len(ids) - 1; i >= 0; i-- {
		mustAllocate(t, s, pool(ids[i].Network, testSubnet4), Request{ID: ids[i]})
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []ID
	for _, a := range list {
		got = append(got, a.ID)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
}

// TestGCScopedToConfig: GC of one CNI configuration never frees attachments
// another configuration made on the same overlay network.
func TestGCScopedToConfig(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", testSubnet4)
	plain := ID{Network: "dcos", ContainerID: "c1", IfName: "eth0"}
	other := ID{Network: "dcos", ContainerID: "c2", IfName: "eth0"}
	mustAllocate(t, s, p, Request{ID: plain})
	mustAllocate(t, s, p, Request{ID: other, Config: "dcos-bridge"})
	rel, err := s.GC("dcos", "", nil)
	if err != nil || len(rel) != 1 || rel[0].ID != plain {
		t.Fatalf("GC of config dcos released %+v (%v), want only %v", rel, err, plain)
	}
	rel, err = s.GC("dcos", "dcos-bridge", nil)
	if err != nil || len(rel) != 1 || rel[0].ID != other || rel[0].Config != "dcos-bridge" {
		t.Fatalf("GC of config dcos-bridge released %+v (%v)", rel, err)
	}
}

// TestWithdraw: a withdrawn attachment keeps its addresses and says so
// (durably: the flag is read back), withdrawing twice or an unknown ID is
// fine, allocating the same ID again clears it with the same addresses,
// and Release still frees it.
func TestWithdraw(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", testSubnet4, testSubnet6)
	att := mustAllocate(t, s, p, req("dcos", "c1"))
	got, withdrawn, err := s.Withdraw(att.ID)
	if err != nil || !withdrawn || !got.Withdrawn {
		t.Fatalf("Withdraw = %+v, %v, %v", got, withdrawn, err)
	}
	if stored, _, _ := s.Get(att.ID); !stored.Withdrawn || stored.IPs[0] != att.IPs[0] {
		t.Errorf("stored after Withdraw: %+v", stored)
	}
	if _, withdrawn, err := s.Withdraw(att.ID); err != nil || !withdrawn {
		t.Errorf("second Withdraw: %v %v", withdrawn, err)
	}
	if _, withdrawn, err := s.Withdraw(ID{Network: "dcos", ContainerID: "nobody", IfName: "eth0"}); err != nil || withdrawn {
		t.Errorf("Withdraw of an unknown attachment: %v %v", withdrawn, err)
	}
	again, created, err := s.Allocate(p, req("dcos", "c1"))
	if err != nil || created || again.Withdrawn || again.IPs[0] != att.IPs[0] {
		t.Errorf("Allocate after Withdraw = %+v created %v, %v; want the same addresses, published again", again, created, err)
	}
	if _, _, err := s.Withdraw(att.ID); err != nil {
		t.Fatal(err)
	}
	if _, released, err := s.Release(att.ID); err != nil || !released {
		t.Errorf("Release of a withdrawn attachment: %v %v", released, err)
	}
	checkInvariants(t, s, p)
}

// TestUnpublished: an attachment allocated Unpublished is withdrawn until
// Publish; allocating it again Unpublished keeps it so, and Publish of an
// unknown ID is fine.
func TestUnpublished(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", testSubnet4, testSubnet6)
	r := req("dcos", "c1")
	r.Unpublished = true
	att := mustAllocate(t, s, p, r)
	if !att.Withdrawn {
		t.Fatalf("unpublished allocation: %+v", att)
	}
	if again, _, _ := s.Allocate(p, r); !again.Withdrawn || again.IPs[0] != att.IPs[0] {
		t.Errorf("second unpublished Allocate: %+v", again)
	}
	got, published, err := s.Publish(att.ID)
	if err != nil || !published || got.Withdrawn {
		t.Errorf("Publish = %+v %v %v", got, published, err)
	}
	if stored, _, _ := s.Get(att.ID); stored.Withdrawn {
		t.Error("Publish not stored")
	}
	if _, published, err := s.Publish(ID{Network: "dcos", ContainerID: "none", IfName: "eth0"}); err != nil || published {
		t.Errorf("Publish of an unknown attachment: %v %v", published, err)
	}
	checkInvariants(t, s, p)
}
