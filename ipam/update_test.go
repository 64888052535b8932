package ipam

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUpdateRekeysAndLabels(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", "9.0.1.0/24", "fd01:b::/80")
	old := mustAllocate(t, s, p, req("dcos", "cnm-0242ac110002"))
	to := ID{Network: "dcos", ContainerID: "ep1", IfName: "eth0"}
	labels := map[string]string{"VIP_0": "/web:80"}
	pms := []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}

	got, err := s.Update(old.ID, to, labels, pms)
	if err != nil {
		t.Fatal(err)
	}
	want := old
	want.ID, want.Labels, want.PortMappings = to, labels, pms
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("updated attachment (-want +got):\n%s", d)
	}
	// Idempotent: the old ID is gone, the new one is updated again.
	if got2, err := s.Update(old.ID, to, labels, pms); err != nil || !cmp.Equal(got, got2) {
		t.Fatalf("second update: %v\n%s", err, cmp.Diff(got, got2))
	}
	if _, ok, _ := s.Get(old.ID); ok {
		t.Fatal("old ID still stored")
	}
	if a, ok, _ := s.Get(to); !ok || !cmp.Equal(a, got) {
		t.Fatalf("new ID: %v %+v", ok, a)
	}
	// The addresses moved with it: releasing the new ID frees them, so the
	// whole subnet can be allocated again without a clash.
	if _, released, err := s.Release(to); err != nil || !released {
		t.Fatalf("release: %v %v", released, err)
	}
	if n, _ := s.Count(); n != 0 {
		t.Fatalf("%d attachments left", n)
	}
	again := mustAllocate(t, s, p, req("dcos", "other"))
	for _, a := range addrs(t, again) {
		if a == "" {
			t.Fatal("no address")
		}
	}
}

func TestUpdateErrors(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", "9.0.1.0/24")
	a := mustAllocate(t, s, p, req("dcos", "a"))
	b := mustAllocate(t, s, p, req("dcos", "b"))
	if _, err := s.Update(req("dcos", "nope").ID, ID{}, nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown attachment: %v", err)
	}
	if _, err := s.Update(a.ID, b.ID, nil, nil); err == nil {
		t.Error("re-key onto an existing attachment succeeded")
	}
	if _, err := s.Update(a.ID, ID{Network: "other", ContainerID: "a", IfName: "eth0"}, nil, nil); err == nil {
		t.Error("re-key to another network succeeded")
	}
	// Labels only, same ID.
	got, err := s.Update(a.ID, ID{}, map[string]string{"k": "v"}, nil)
	if err != nil || got.Labels["k"] != "v" || got.ID != a.ID {
		t.Errorf("label update: %v %+v", err, got)
	}
}
