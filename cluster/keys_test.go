package cluster

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

// TestDocListsEveryPrefix keeps doc.go's layout table complete.
func TestDocListsEveryPrefix(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Prefixes {
		if !strings.HasPrefix(p, Prefix) {
			t.Errorf("prefix %q is not under %q", p, Prefix)
		}
		if !strings.Contains(string(doc), p) {
			t.Errorf("doc.go's layout does not list %s", p)
		}
	}
}

// TestPrefixesDisjoint: no prefix is a prefix of another, so a watch or
// a delete of one never touches another's keys (VIPAndNamesPrefix, the
// deliberate union of two, is not in Prefixes).
func TestPrefixesDisjoint(t *testing.T) {
	for i, a := range Prefixes {
		for j, b := range Prefixes {
			if i != j && strings.HasPrefix(b, a) {
				t.Errorf("%s is a prefix of %s", a, b)
			}
		}
	}
	for _, p := range []string{VIPNamePrefix, VIPAddrPrefix, VIPNamesPrefix} {
		if !strings.HasPrefix(p, VIPAndNamesPrefix) {
			t.Errorf("%s not under VIPAndNamesPrefix %s", p, VIPAndNamesPrefix)
		}
	}
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{NodeKey("a1"), "/dcnet/v1/nodes/a1"},
		{AliveKey("a1"), "/dcnet/v1/alive/a1"},
		{EndpointKey("a1", "dcos", "c1", "eth0"), "/dcnet/v1/endpoints/a1/dcos/c1/eth0"},
		{NodeMesosBackendsPrefix("a1"), "/dcnet/v1/mesos-backends/a1/"},
		{PoolKey("web"), "/dcnet/v1/l7/pools/web"},
		{SubnetKey("dcos", netip.MustParsePrefix("9.0.1.0/24")), "/dcnet/v1/subnets/dcos/9.0.1.0-24"},
		{VTEPKey(netip.MustParseAddr("44.128.0.1")), "/dcnet/v1/vteps/44.128.0.1-32"},
		{VTEPKey(netip.MustParseAddr("fd01:a::1")), "/dcnet/v1/vteps6/fd01:a::1-128"},
	} {
		if tc.got != tc.want {
			t.Errorf("key %q, want %q", tc.got, tc.want)
		}
	}
}

func TestBlockKeyRoundTrip(t *testing.T) {
	for _, s := range []string{"9.0.1.0/24", "fd01:b::1:0:0:0/80", "44.128.0.1/32"} {
		p := netip.MustParsePrefix(s)
		back, ok := ParseBlockKey(SubnetKey("dcos", p))
		if !ok || back != p {
			t.Errorf("%s -> %s -> %s", p, SubnetKey("dcos", p), back)
		}
	}
	if _, ok := ParseBlockKey("/dcnet/v1/subnets/dcos/garbage"); ok {
		t.Error("garbage key parsed")
	}
}

func TestWithLiveness(t *testing.T) {
	nodes := []Node{{Name: "b"}, {Name: "a"}}
	got := WithLiveness(nodes, []KV{{Key: AliveKey("b")}, {Key: AliveKey("z")}})
	if len(got) != 2 || got[0].Name != "a" || got[0].Alive || got[1].Name != "b" || !got[1].Alive {
		t.Errorf("WithLiveness = %+v", got)
	}
	if _, ok := DecodeNode(KV{Key: NodeKey("x"), Value: []byte(`{"name":""}`)}); ok {
		t.Error("a record without a name decoded")
	}
}
