package ipam

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOpensLayout1 opens testdata/layout1.db, written by overlayd before the
// stored types became ipam's own (when they were overlayd/api's wire types),
// and reads back exactly what that code stored; then allocates in it.
func TestOpensLayout1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overlayd.db")
	copyFile(t, "testdata/layout1.db", path)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []Attachment{
		{
			ID:           ID{Network: "dcos", ContainerID: "c1", IfName: "eth0"},
			IPs:          []IP{{Address: "9.0.3.2/24", Gateway: "9.0.3.1"}, {Address: "fd01:b::3:0:0:2/80", Gateway: "fd01:b::3:0:0:1"}},
			Runtime:      "cni",
			Labels:       map[string]string{"VIP_0": "/web:80"},
			PortMappings: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
			Created:      testTime,
		},
		{
			ID:      ID{Network: "dcos", ContainerID: "c2", IfName: "eth0"},
			Config:  "dcos-docker",
			IPs:     []IP{{Address: "9.0.3.3/24", Gateway: "9.0.3.1"}, {Address: "fd01:b::3:0:0:3/80", Gateway: "fd01:b::3:0:0:1"}},
			Runtime: "docker",
			Created: testTime,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("attachments of a layout-1 database (-want +got):\n%s", diff)
	}
	if v, ok, err := s.GetMeta("lease"); err != nil || !ok || string(v) != "7587868888" {
		t.Errorf("meta lease = %q %v %v, want 7587868888", v, ok, err)
	}
	pool := Pool{Network: "dcos", Ranges: []Range{rng("9.0.3.0/24", ""), rng("fd01:b::3:0:0:0/80", "")}}
	att, created, err := s.Allocate(pool, Request{ID: ID{Network: "dcos", ContainerID: "c3", IfName: "eth0"}})
	if err != nil || !created || att.IPs[0].Address != "9.0.3.4/24" {
		t.Fatalf("allocate after the old ones: %+v created=%v err=%v, want 9.0.3.4/24", att, created, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
