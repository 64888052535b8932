package dataplane

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/dcnet/dcnet/internal/netsim"
)

// udpEntry is a conntrack entry client -> vip DNATed to backend.
func udpEntry(client, vip, backend string) *netlink.ConntrackFlow {
	c, v, b := netip.MustParseAddrPort(client), netip.MustParseAddrPort(vip), netip.MustParseAddrPort(backend)
	fam := uint8(unix.AF_INET)
	if v.Addr().Is6() {
		fam = unix.AF_INET6
	}
	return &netlink.ConntrackFlow{
		FamilyType: fam,
		Forward: netlink.IPTuple{Protocol: unix.IPPROTO_UDP, SrcIP: net.IP(c.Addr().AsSlice()), SrcPort: c.Port(),
			DstIP: net.IP(v.Addr().AsSlice()), DstPort: v.Port()},
		Reverse: netlink.IPTuple{Protocol: unix.IPPROTO_UDP, SrcIP: net.IP(b.Addr().AsSlice()), SrcPort: b.Port(),
			DstIP: net.IP(c.Addr().AsSlice()), DstPort: c.Port()},
		TimeOut: 120,
	}
}

// TestPrivilegedConntrackFilteredDelete: DeleteUDP removes exactly the
// entries of the given flows (original destination = VIP, reply source =
// backend), IPv4 and IPv6, and the kernel's filtered dump hands over only
// those entries (IPv6: those with the flow's ports), however many others
// the table holds.
func TestPrivilegedConntrackFilteredDelete(t *testing.T) {
	netsim.Privileged(t)
	nl, ct := ctNamespace(t, "ctflt")
	entries := []struct {
		flow *netlink.ConntrackFlow
		gone bool
	}{
		{udpEntry("10.1.0.1:1000", "11.0.0.9:53", "10.2.0.1:53"), true},
		{udpEntry("10.1.0.1:1001", "11.0.0.9:53", "10.2.0.1:53"), true},
		{udpEntry("10.1.0.1:1002", "11.0.0.9:53", "10.2.0.2:53"), false},   // another backend
		{udpEntry("10.1.0.1:1003", "11.0.0.8:53", "10.2.0.1:53"), false},   // another VIP
		{udpEntry("10.1.0.1:1004", "11.0.0.9:53", "10.2.0.1:5353"), false}, // another backend port
		{udpEntry("10.1.0.1:1005", "11.0.0.9:54", "10.2.0.1:53"), false},   // another VIP port
		{udpEntry("[fd00::1]:1000", "[fd01::9]:53", "[fd02::1]:53"), true},
		{udpEntry("[fd00::1]:1001", "[fd01::9]:53", "[fd02::2]:53"), false},
	}
	for i := 0; i < 200; i++ { // bulk the table up with unrelated entries
		entries = append(entries, struct {
			flow *netlink.ConntrackFlow
			gone bool
		}{udpEntry(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 3, byte(i / 250), byte(i%250 + 1)}), 2000).String(), "11.0.1.1:53", "10.2.0.1:53"), false})
	}
	for _, e := range entries {
		if err := nl.ConntrackCreate(netlink.ConntrackTable, netlink.InetFamily(e.flow.FamilyType), e.flow); err != nil {
			t.Fatalf("create %s: %v", e.flow, err)
		}
	}
	var dumped []int
	dumpHook = func(n int) { dumped = append(dumped, n) }
	t.Cleanup(func() { dumpHook = nil })
	n, err := ct.DeleteUDP([]UDPFlow{
		{VIP: netip.MustParseAddrPort("11.0.0.9:53"), Backend: netip.MustParseAddrPort("10.2.0.1:53")},
		{VIP: netip.MustParseAddrPort("[fd01::9]:53"), Backend: netip.MustParseAddrPort("[fd02::1]:53")},
	})
	if err != nil || n != 3 {
		t.Fatalf("DeleteUDP = %d, %v; want the 3 entries of the two flows (dumps returned %v)", n, err, dumped)
	}
	// IPv4: the flow's 2 entries of 208; IPv6: the 2 with its protocol
	// and ports (the kernel's IPv6 address filter is not used).
	if len(dumped) != 2 || dumped[0] != 2 || dumped[1] != 2 {
		t.Errorf("filtered dumps returned %v entries, want [2 2]: the kernel did not filter (CTA_FILTER needs Linux 5.8)", dumped)
	}
	if ct.noFilter.Load() {
		t.Error("the kernel filters, yet the conntrack fell back to full dumps for good")
	}
	// More flows than maxFilteredFlows: one full dump, no filtered ones.
	var many []UDPFlow
	for i := range maxFilteredFlows + 1 {
		many = append(many, UDPFlow{VIP: netip.AddrPortFrom(netip.MustParseAddr("11.0.9.9"), uint16(1000+i)), Backend: netip.MustParseAddrPort("10.2.0.1:53")})
	}
	dumped = nil
	if n, err := ct.DeleteUDP(many); err != nil || n != 0 || len(dumped) != 0 {
		t.Errorf("%d flows: deleted %d, %v, %d filtered dumps; want 0, nil, none (one full dump)", len(many), n, err, len(dumped))
	}
	left := map[string]bool{}
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		flows, err := nl.ConntrackTableList(netlink.ConntrackTable, fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range flows {
			left[srcKey(fl)] = true
		}
	}
	for _, e := range entries {
		key := srcKey(e.flow)
		if left[key] == e.gone {
			t.Errorf("entry from %s: left %t, want deleted %t", key, left[key], e.gone)
		}
	}
}

// srcKey names an entry by its client address and port.
func srcKey(f *netlink.ConntrackFlow) string {
	a, _ := netip.AddrFromSlice(f.Forward.SrcIP)
	return netip.AddrPortFrom(a.Unmap(), f.Forward.SrcPort).String()
}

// BenchmarkPrivilegedConntrackDeleteUDP deletes one flow's entry from a
// table that also holds 50,000 unrelated UDP entries: the kernel-filtered
// dump against the full dump filtered in Go (root; `go test -run X -bench
// ConntrackDeleteUDP ./l4lb/dataplane/`).
func BenchmarkPrivilegedConntrackDeleteUDP(b *testing.B) {
	netsim.Privileged(b)
	const unrelated = 50000
	nl, ct := ctNamespace(b, "ctbench")
	for i := range unrelated {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 3, byte(i >> 8), byte(i)}), uint16(1024+i%50000))
		if err := nl.ConntrackCreate(netlink.ConntrackTable, unix.AF_INET, udpEntry(c.String(), "11.0.1.1:53", "10.2.0.1:53")); err != nil {
			b.Fatalf("create entry %d: %v (raise net.netfilter.nf_conntrack_max?)", i, err)
		}
	}
	flow := UDPFlow{VIP: netip.MustParseAddrPort("11.0.0.9:53"), Backend: netip.MustParseAddrPort("10.2.0.9:53")}
	for _, bc := range []struct {
		name string
		del  func() (int, error)
	}{
		{"filtered", func() (int, error) { return ct.DeleteUDP([]UDPFlow{flow}) }},
		{"fulldump", func() (int, error) { return ct.deleteFullDump([]UDPFlow{flow}) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				if err := nl.ConntrackCreate(netlink.ConntrackTable, unix.AF_INET, udpEntry("10.1.0.1:1000", "11.0.0.9:53", "10.2.0.9:53")); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if n, err := bc.del(); err != nil || n != 1 {
					b.Fatalf("deleted %d, %v; want 1", n, err)
				}
			}
		})
	}
}

// ctNamespace makes a node netns for conntrack tests and benchmarks and
// returns a netlink handle in it (to create and list entries) and a
// NetlinkConntrack on it; everything goes when tb ends.
func ctNamespace(tb testing.TB, prefix string) (*netlink.Handle, *NetlinkConntrack) {
	tb.Helper()
	nd, err := netsim.NewFabric(tb, prefix).AddNode("n1")
	if err != nil {
		tb.Fatal(err)
	}
	h, err := nd.NetNS()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	nl, err := netlink.NewHandleAt(netns.NsHandle(h.Fd()), unix.NETLINK_NETFILTER)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nl.Close)
	ct, err := NewNetlinkConntrack(netns.NsHandle(h.Fd()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ct.Close)
	return nl, ct
}
