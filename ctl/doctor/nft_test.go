package doctor

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseNFT(t *testing.T) {
	tb := readTable(t, "ip")
	if !tb.Present || !tb.Maps["vips"] || !tb.Maps["backends"] || len(tb.Bad) != 0 {
		t.Fatalf("table: present %v maps %v bad %v", tb.Present, tb.Maps, tb.Bad)
	}
	k := func(a, proto string, port uint16) VIPKey { return VIPKey{netip.MustParseAddr(a), proto, port} }
	for key, want := range map[VIPKey]string{
		k("11.0.0.1", "tcp", 80): "jump lb-2", k("11.0.0.1", "udp", 80): "jump lb-1", k("11.0.0.2", "tcp", 80): "jump novip",
	} {
		if got := tb.VIPs[key]; got != want {
			t.Errorf("vips[%s] = %q, want %q", key, got, want)
		}
	}
	if len(tb.VIPs) != 3 || len(tb.Backends) != 3 {
		t.Errorf("%d vips, %d backends, want 3 and 3", len(tb.VIPs), len(tb.Backends))
	}
	if b := tb.Backends[SlotKey{k("11.0.0.1", "tcp", 80), 1}]; b != netip.MustParseAddrPort("9.0.1.3:80") {
		t.Errorf("slot 1 of 11.0.0.1 . tcp . 80 = %s", b)
	}
	for name, want := range map[string]NFTChain{
		"prerouting": {Type: "nat", Hook: "prerouting", Rules: []string{"vmap @vips"}},
		"lb-2":       {Rules: []string{"dnat numgen inc mod 2 map @backends"}},
		"novip":      {Rules: []string{"reject", "reject"}},
		"hairpin":    {Type: "filter", Hook: "prerouting", Rules: []string{"fib"}},
	} {
		got := tb.Chains[name]
		if got.Type != want.Type || got.Hook != want.Hook || !slices.Equal(got.Rules, want.Rules) {
			t.Errorf("chain %s = %+v, want %+v", name, got, want)
		}
	}
	if tb6 := readTable(t, "ip6"); tb6.Backends[SlotKey{k("fd01:c::5", "tcp", 80), 0}] != netip.MustParseAddrPort("[fd01:b::2]:80") {
		t.Errorf("ip6 backends: %v", tb6.Backends)
	}
}

func TestParseNFTOddElements(t *testing.T) {
	doc := `{"nftables":[{"table":{"family":"ip","name":"dcnet-l4lb"}},
	 {"map":{"name":"vips","elem":[
	   [{"elem":{"val":{"concat":["11.0.0.3",6,"http"]},"comment":"x"}},{"goto":{"target":"lb-1"}}],
	   [{"concat":["nonsense","tcp",80]},{"jump":{"target":"lb-1"}}],
	   [{"concat":["11.0.0.4","tcp",80]}]]}},
	 {"map":{"name":"backends","elem":[[{"concat":["11.0.0.3","tcp",80,"0x00000001"]},{"concat":["9.0.1.2",8080]}],
	   [{"concat":["11.0.0.3","tcp",80]},{"concat":["9.0.1.2",8080]}]]}}]}`
	tb, err := ParseNFT("ip", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if v := tb.VIPs[VIPKey{netip.MustParseAddr("11.0.0.3"), "tcp", 80}]; v != "goto lb-1" {
		t.Errorf("element with attributes, numeric protocol and service name: %q (%v)", v, tb.VIPs)
	}
	if b := tb.Backends[SlotKey{VIPKey{netip.MustParseAddr("11.0.0.3"), "tcp", 80}, 1}]; b != netip.MustParseAddrPort("9.0.1.2:8080") {
		t.Errorf("hex slot: %v", tb.Backends)
	}
	if len(tb.Bad) != 3 {
		t.Errorf("bad elements %q, want 3", tb.Bad)
	}
}

func TestParseNFTErrors(t *testing.T) {
	for _, in := range []string{"", "nft: no such table", `{"nftables":`, `{"other":[]}`, `{"nftables":[{"chain":"x"}]}`} {
		if _, err := ParseNFT("ip", []byte(in)); err == nil || !strings.Contains(err.Error(), "nft -j output") {
			t.Errorf("ParseNFT(%q) = %v, want an error naming the nft output", in, err)
		}
	}
	if tb, err := ParseNFT("ip", []byte(`{"nftables":[{"metainfo":{}}]}`)); err != nil || tb.Present {
		t.Errorf("no table: %+v %v", tb, err)
	}
}

func FuzzParseNFT(f *testing.F) {
	for _, fam := range []string{"ip", "ip6"} {
		data, err := os.ReadFile("testdata/nft-" + fam + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"nftables":[{"map":{"name":"backends","elem":[[{"concat":[1,2,3,4]},{"concat":[]}]]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := ParseNFT("ip", data)
		if err != nil {
			return
		}
		for k := range tb.VIPs {
			if !k.Addr.IsValid() || k.Proto == "" {
				t.Fatalf("invalid vip key %+v", k)
			}
		}
		for k, b := range tb.Backends {
			if !k.Addr.IsValid() || !b.IsValid() {
				t.Fatalf("invalid backend %+v -> %v", k, b)
			}
		}
		CheckTable("ip", healthyVIPs(), tb) // never panics on what parsed
	})
}
