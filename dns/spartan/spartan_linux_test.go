package spartan

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/internal/netsim"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestMissing(t *testing.T) {
	got := Missing(addrs("198.51.100.1", "198.18.0.2", "198.51.100.1", "0.0.0.0", "fd01:d::c633:6401"), addrs("198.18.0.2", "127.0.0.1"))
	if diff := cmp.Diff(addrs("198.51.100.1", "fd01:d::c633:6401"), got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Missing (-want +got):\n%s", diff)
	}
}

// TestPrivilegedEnsure: in a fresh netns the spartan link appears with the
// missing addresses, a second Ensure adds nothing.
func TestPrivilegedEnsure(t *testing.T) {
	netsim.Privileged(t)
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); testutils.UnmountNS(n) })
	want := addrs("198.51.100.1", "198.51.100.2", "fd01:d::c633:6401")
	err = n.Do(func(ns.NetNS) error {
		added, err := Ensure(DefaultLink, want)
		if err != nil {
			return err
		}
		if len(added) != 3 {
			t.Errorf("first Ensure added %v", added)
		}
		added, err = Ensure(DefaultLink, want)
		if len(added) != 0 {
			t.Errorf("second Ensure added %v", added)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	name := n.Path()[strings.LastIndexByte(n.Path(), '/')+1:]
	out, err := exec.Command("ip", "-n", name, "addr", "show", "dev", DefaultLink).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "198.51.100.2/32") || !strings.Contains(string(out), "fd01:d::c633:6401/128") {
		t.Fatalf("spartan link: %v\n%s", err, out)
	}
}
