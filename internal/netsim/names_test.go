package netsim

import (
	"strings"
	"testing"
)

func TestValidatePrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"t", true},
		{"ovl1", true},
		{"abcdefghijklmnop", true},
		{"", false},
		{"abcdefghijklmnopq", false},
		{"a-b", false},
		{"Upper", false},
		{"a/b", false},
	} {
		if err := ValidatePrefix(tc.prefix); (err == nil) != tc.ok {
			t.Errorf("ValidatePrefix(%q) = %v, want ok=%v", tc.prefix, err, tc.ok)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"node1", true},
		{"node-a", true},
		{"c_1", true},
		{strings.Repeat("a", maxNameLen), true},
		{strings.Repeat("a", maxNameLen+1), false},
		{"", false},
		{"-x", false},
		{"a b", false},
		{"../x", false},
	} {
		if err := ValidateName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestNSNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{FabricNSName("p"), "dcnet-p-fabric"},
		{NodeNSName("p", "node1"), "dcnet-p-node1"},
		{ContainerNSName("p", "node1", "c1"), "dcnet-p-node1-c1"},
		{NSPath("dcnet-p-node1"), "/run/netns/dcnet-p-node1"},
		{StaleMatch("p"), "dcnet-p-"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// A prefix has no dash, so one prefix's stale match never covers another's.
	if strings.HasPrefix(FabricNSName("ab"), StaleMatch("a")) {
		t.Errorf("stale match of prefix a covers prefix ab")
	}
}

func TestFabricVethName(t *testing.T) {
	for _, idx := range []int{1, 9, maxNodeIndex} {
		if n := fabricVethName(idx); len(n) > maxIfNameLen {
			t.Errorf("fabricVethName(%d) = %q, longer than %d", idx, n, maxIfNameLen)
		}
	}
	if got := fabricVethName(12); got != "vn12" {
		t.Errorf("fabricVethName(12) = %q, want vn12", got)
	}
}

func TestNodeUnderlayIP(t *testing.T) {
	for _, tc := range []struct {
		index int
		want  string
	}{
		{1, "198.18.0.1"},
		{2, "198.18.0.2"},
		{255, "198.18.0.255"},
		{256, "198.18.1.0"},
		{maxNodeIndex, "198.18.255.254"},
	} {
		got, err := NodeUnderlayIP(tc.index)
		if err != nil || got.String() != tc.want {
			t.Errorf("NodeUnderlayIP(%d) = %v, %v; want %s", tc.index, got, err, tc.want)
		}
		if !UnderlayPrefix.Contains(got) || got == OutsideIP {
			t.Errorf("NodeUnderlayIP(%d) = %v: outside %v or equal to the outside host", tc.index, got, UnderlayPrefix)
		}
	}
	for _, bad := range []int{0, -1, maxNodeIndex + 1} {
		if _, err := NodeUnderlayIP(bad); err == nil {
			t.Errorf("NodeUnderlayIP(%d): want error", bad)
		}
	}
	if !UnderlayPrefix.Contains(OutsideIP) {
		t.Errorf("outside host %v is not in %v", OutsideIP, UnderlayPrefix)
	}
}
