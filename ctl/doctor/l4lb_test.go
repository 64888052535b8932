package doctor

import (
	"maps"
	"net/netip"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

func TestWantTable(t *testing.T) {
	want, chains, why := WantTable("ip", healthyVIPs())
	have := readTable(t, "ip")
	if !maps.Equal(want.VIPs, have.VIPs) || !maps.Equal(want.Backends, have.Backends) {
		t.Errorf("planned vips %v backends %v\nkernel vips %v backends %v", want.VIPs, want.Backends, have.VIPs, have.Backends)
	}
	if len(chains) != 2 || chains[0] != 1 || chains[1] != 2 || len(why) != 0 {
		t.Errorf("chains %v why %v, want [1 2] and none", chains, why)
	}
	_, _, why = WantTable("ip", []l4lbapi.VIPInfo{{Protocol: "sctp", Port: 9, Address: "11.0.0.9",
		Backends: []l4lbapi.BackendInfo{{IP: "fd01:b::9", Port: 9, Active: true}}}})
	if len(why) != 1 {
		t.Errorf("unprogrammable VIP: why %v", why)
	}
}

func TestCheckTable(t *testing.T) {
	k := VIPKey{netip.MustParseAddr("11.0.0.1"), "tcp", 80}
	for _, tc := range []struct {
		name   string
		family string
		change func(*NFTTable)
		vips   func([]l4lbapi.VIPInfo) []l4lbapi.VIPInfo
		want   []string
	}{
		{"healthy", "ip", func(*NFTTable) {}, nil, nil},
		{"healthy ip6", "ip6", func(*NFTTable) {}, nil, nil},
		{"nft delete table", "ip", func(tb *NFTTable) { *tb = NFTTable{Family: "ip"} }, nil, []string{"missing table ip dcnet-l4lb"}},
		{"no ip6 table before the first IPv6 VIP", "ip6", func(tb *NFTTable) { *tb = NFTTable{Family: "ip6"} },
			func(vs []l4lbapi.VIPInfo) []l4lbapi.VIPInfo { return vs[:3] }, nil},
		{"an ip6 table left empty", "ip6", func(tb *NFTTable) {
			tb.VIPs, tb.Backends = map[VIPKey]string{}, map[SlotKey]netip.AddrPort{}
			delete(tb.Chains, "lb-1")
		}, func(vs []l4lbapi.VIPInfo) []l4lbapi.VIPInfo { return vs[:3] }, nil},
		{"nft delete element backends", "ip", func(tb *NFTTable) { delete(tb.Backends, SlotKey{k, 1}) }, nil,
			[]string{"missing 11.0.0.1 . tcp . 80 . 0x00000001 : 9.0.1.3 . 80"}},
		{"element pointing elsewhere", "ip", func(tb *NFTTable) { tb.Backends[SlotKey{k, 0}] = netip.MustParseAddrPort("9.0.9.9:80") }, nil,
			[]string{"wrong 11.0.0.1 . tcp . 80 . 0x00000000"}},
		{"vip jumping to the wrong chain", "ip", func(tb *NFTTable) { tb.VIPs[k] = "jump lb-1" }, nil,
			[]string{"wrong 11.0.0.1 . tcp . 80"}},
		{"hand-made vip", "ip", func(tb *NFTTable) { tb.VIPs[VIPKey{netip.MustParseAddr("11.0.0.99"), "tcp", 80}] = "jump novip" }, nil,
			[]string{"extra 11.0.0.99 . tcp . 80 : jump novip"}},
		{"a backend drains", "ip", func(*NFTTable) {}, func(vs []l4lbapi.VIPInfo) []l4lbapi.VIPInfo {
			vs[0].Backends[1].Draining = true // 9.0.1.2: one slot left, 9.0.1.3
			return vs
		}, []string{"wrong 11.0.0.1 . tcp . 80", "wrong 11.0.0.1 . tcp . 80 . 0x00000000",
			"extra 11.0.0.1 . tcp . 80 . 0x00000001 : 9.0.1.3 . 80", "extra chain lb-2"}},
		{"lb chain flushed", "ip", func(tb *NFTTable) { tb.Chains["lb-2"] = NFTChain{} }, nil, []string{"wrong chain lb-2"}},
		{"lb chain deleted", "ip", func(tb *NFTTable) { delete(tb.Chains, "lb-1") }, nil, []string{"missing chain lb-1"}},
		{"base chain on another hook", "ip", func(tb *NFTTable) { tb.Chains["output"] = NFTChain{Type: "nat", Hook: "prerouting"} }, nil,
			[]string{"wrong chain output"}},
		{"map deleted", "ip", func(tb *NFTTable) { delete(tb.Maps, "backends") }, nil, []string{"missing map backends"}},
		{"unreadable element", "ip", func(tb *NFTTable) { tb.Bad = []string{"vips: [1]"} }, nil, []string{"wrong element vips: [1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vips := healthyVIPs()
			if tc.vips != nil {
				vips = tc.vips(vips)
			}
			tb := readTable(t, tc.family)
			tc.change(&tb)
			wantLines(t, CheckTable(tc.family, vips, tb), tc.want...)
		})
	}
}

func TestCheckVIPNames(t *testing.T) {
	key := cluster.VIPNamesPrefix + "web.marathon.l4lb.thisdcos.directory"
	rec := func(addrs ...string) KV {
		return KV{Key: key, Value: jsonOf(cluster.VIPName{Name: "web.marathon.l4lb.thisdcos.directory", Addrs: addrs})}
	}
	for _, tc := range []struct {
		name string
		recs []KV
		want []string
	}{
		{"healthy", []KV{rec("11.0.0.1", "fd01:c::5")}, nil},
		{"name record deleted", nil, []string{"missing " + key}},
		{"address missing", []KV{rec("11.0.0.1")}, []string{"wrong " + key}},
		{"released elsewhere, not here", []KV{rec("11.0.0.1", "fd01:c::5"),
			{Key: cluster.VIPNamesPrefix + "old.marathon.l4lb.thisdcos.directory", Value: jsonOf(cluster.VIPName{Addrs: []string{"11.0.0.7"}})}},
			[]string{"note " + cluster.VIPNamesPrefix + "old.marathon.l4lb.thisdcos.directory"}},
		{"garbage", []KV{rec("11.0.0.1", "fd01:c::5"), {Key: cluster.VIPNamesPrefix + "x.l4lb.thisdcos.directory", Value: []byte("[")}},
			[]string{"wrong " + cluster.VIPNamesPrefix + "x.l4lb.thisdcos.directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLines(t, CheckVIPNames(healthyVIPs(), tc.recs, "etcdctl"), tc.want...)
		})
	}
}
