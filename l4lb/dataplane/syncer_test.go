package dataplane

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/dcnet/dcnet/l4lb/vip"
)

func mustBuild(t *testing.T, ss ...Service) Plan {
	t.Helper()
	p, errs := Build(ss)
	if errs != nil {
		t.Fatal(errs)
	}
	return p
}

func webService(backends ...string) Service {
	s := Service{Key: ipKey("tcp", "11.0.0.1", 80)}
	for _, b := range backends {
		s.Backends = append(s.Backends, be(b))
	}
	return s
}

func dnsService(backends ...string) Service {
	s := Service{Key: ipKey("udp", "11.0.0.9", 53)}
	for _, b := range backends {
		s.Backends = append(s.Backends, be(b))
	}
	return s
}

func TestSyncerApplySendsOnlyChanges(t *testing.T) {
	k := NewFake()
	s := NewSyncer(k, nil)
	p := mustBuild(t, webService("9.0.1.2:80", "9.0.1.3:80", "9.0.1.4:80"), dnsService("9.0.1.2:53"))
	res, err := s.Apply(p)
	if err != nil || !res[0].Rebuilt || !res[0].ReadBack || k.Reads != 2 {
		t.Fatalf("first Apply = %+v, %v, %d reads; want a read-back and a rebuild", res, err, k.Reads)
	}

	// The same plan again: no read, no batch.
	batches, reads := k.Batches, k.Reads
	res, err = s.Apply(p)
	if err != nil || k.Batches != batches || k.Reads != reads || res[0].Changes+res[1].Changes != 0 || res[0].ReadBack {
		t.Errorf("second Apply = %+v, %v, %d batches, %d reads; want nothing sent or read", res, err, k.Batches-batches, k.Reads-reads)
	}

	// One backend replaced: only its element is deleted and added.
	p2 := mustBuild(t, webService("9.0.1.2:80", "9.0.1.5:80", "9.0.1.4:80"), dnsService("9.0.1.2:53"))
	if _, err := s.Apply(p2); err != nil {
		t.Fatal(err)
	}
	if k.Reads != reads {
		t.Errorf("Apply of a change read the kernel back %d times", k.Reads-reads)
	}
	// 9.0.1.5 sorts after 9.0.1.4, so slot 1 changes from .3 to .4 and
	// slot 2 from .4 to .5; nothing else is sent.
	want := "del backends 11.0.0.1 . tcp . 80 . 1 : 9.0.1.3 . 80\n" +
		"del backends 11.0.0.1 . tcp . 80 . 2 : 9.0.1.4 . 80\n" +
		"add backends 11.0.0.1 . tcp . 80 . 1 : 9.0.1.4 . 80\n" +
		"add backends 11.0.0.1 . tcp . 80 . 2 : 9.0.1.5 . 80\n"
	if got := k.Last.Changes.String(); got != want || k.Last.Family != IPv4 || k.Last.Rebuild {
		t.Errorf("batch of one backend change =\n%s\nwant\n%s", got, want)
	}
	if k.Batches != batches+1 {
		t.Errorf("one backend change sent %d batches, want 1 (the IPv6 table did not change)", k.Batches-batches)
	}
	fresh := NewFake()
	if _, err := Sync(fresh, p2); err != nil {
		t.Fatal(err)
	}
	if k.String() != fresh.String() {
		t.Errorf("after Apply:\n%s\nwant what Sync builds:\n%s", k, fresh)
	}
}

func TestSyncerApplyTrustsMemoryReconcileRepairs(t *testing.T) {
	k := NewFake()
	s := NewSyncer(k, nil)
	p := mustBuild(t, webService("9.0.1.2:80", "9.0.1.3:80"))
	if _, err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	want := k.String()
	delete(k.Tables[IPv4].VIPs, ServiceKey{Addr: netip.MustParseAddr("11.0.0.1"), Proto: protoTCP, Port: 80})
	batches := k.Batches
	if _, err := s.Apply(p); err != nil || k.Batches != batches {
		t.Errorf("Apply after hand damage: %v, %d batches; want none (it does not read back)", err, k.Batches-batches)
	}
	res, err := s.Reconcile(p)
	if err != nil || res[0].Changes != 1 || !res[0].ReadBack {
		t.Errorf("Reconcile = %+v, %v; want one repaired element", res, err)
	}
	if k.String() != want {
		t.Errorf("after Reconcile:\n%s\nwant\n%s", k, want)
	}
}

func TestSyncerApplyErrorForcesReadBack(t *testing.T) {
	k := NewFake()
	s := NewSyncer(k, nil)
	p1 := mustBuild(t, webService("9.0.1.2:80", "9.0.1.3:80"))
	p2 := mustBuild(t, webService("9.0.1.2:80"))
	if _, err := s.Apply(p1); err != nil {
		t.Fatal(err)
	}
	k.Fail = errors.New("netlink: no buffer space")
	if _, err := s.Apply(p2); err == nil {
		t.Fatal("Apply on a failing kernel succeeded")
	}
	k.Fail = nil
	// Meanwhile the table was damaged: only a read-back can see it.
	k.Tables[IPv4].Intact = false
	reads := k.Reads
	res, err := s.Apply(p2)
	if err != nil || k.Reads == reads || !res[0].ReadBack || !res[0].Rebuilt {
		t.Fatalf("Apply after an error = %+v, %v, %d reads; want a read-back and a rebuild", res, err, k.Reads-reads)
	}
	fresh := NewFake()
	if _, err := Sync(fresh, p2); err != nil {
		t.Fatal(err)
	}
	if k.String() != fresh.String() {
		t.Errorf("after recovery:\n%s\nwant\n%s", k, fresh)
	}
	reads = k.Reads
	if _, err := s.Apply(p2); err != nil || k.Reads != reads {
		t.Errorf("Apply after recovery: %v, %d reads; want none", err, k.Reads-reads)
	}
}

func TestSyncerDeletesStaleUDPFlows(t *testing.T) {
	k := NewFake()
	ct := &FakeConntrack{}
	s := NewSyncer(k, ct)
	vipAP := netip.MustParseAddrPort("11.0.0.9:53")
	// The VIP exists without a backend first: untranslated entries to it
	// must go once it has one.
	if _, err := s.Apply(mustBuild(t, dnsService())); err != nil {
		t.Fatal(err)
	}
	ct.Entries = []UDPFlow{{VIP: vipAP, Backend: vipAP}}
	res, err := s.Apply(mustBuild(t, dnsService("9.0.1.2:53", "9.0.1.3:53"), webService("9.0.1.3:80")))
	if err != nil || res[0].StaleFlows != 1 || len(ct.Entries) != 0 {
		t.Errorf("first backend: %+v, %v, entries left %v; want the untranslated entry deleted", res, err, ct.Entries)
	}

	b2, b3 := netip.MustParseAddrPort("9.0.1.2:53"), netip.MustParseAddrPort("9.0.1.3:53")
	ct.Entries = []UDPFlow{{VIP: vipAP, Backend: b2}, {VIP: vipAP, Backend: b3}}
	ct.Deleted = nil
	// 9.0.1.3 leaves the UDP VIP and the TCP one: only the UDP flow goes;
	// 9.0.1.2 keeps its slot 0 and its entries.
	res, err = s.Apply(mustBuild(t, dnsService("9.0.1.2:53"), webService("9.0.1.2:80")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ct.String(), "delete udp 11.0.0.9:53 via 9.0.1.3:53\n"; got != want {
		t.Errorf("deleted flows:\n%s\nwant\n%s", got, want)
	}
	if len(ct.Entries) != 1 || ct.Entries[0].Backend != b2 || res[0].StaleFlows != 1 {
		t.Errorf("entries left %v, result %+v; want only 9.0.1.2's", ct.Entries, res)
	}

	// A conntrack failure is reported, not fatal, and retried.
	ct.Fail = errors.New("conntrack: permission denied")
	ct.Deleted = nil
	res, err = s.Apply(mustBuild(t, webService("9.0.1.2:80")))
	if err != nil || res[0].ConntrackErr == nil {
		t.Fatalf("Apply with failing conntrack = %+v, %v; want the tables applied and the error reported", res, err)
	}
	ct.Fail = nil
	res, err = s.Apply(mustBuild(t, webService("9.0.1.2:80")))
	if got, want := ct.String(), "delete udp 11.0.0.9:53 via 9.0.1.2:53\n"; err != nil || got != want || res[0].ConntrackErr != nil {
		t.Errorf("retry: %+v, %v, deleted:\n%s\nwant\n%s", res, err, got, want)
	}
}

func TestStaleUDPFlowsIgnoresTCPAndMovedSlots(t *testing.T) {
	have := mustBuild(t, dnsService("9.0.1.2:53", "9.0.1.3:53", "9.0.1.4:53")).Tables[IPv4]
	// 9.0.1.3 leaves; 9.0.1.4 moves from slot 2 to slot 1 and stays.
	want := mustBuild(t, dnsService("9.0.1.2:53", "9.0.1.4:53")).Tables[IPv4]
	got := staleUDPFlows(want, have, Diff(want, have))
	if len(got) != 1 || got[0].Backend != netip.MustParseAddrPort("9.0.1.3:53") {
		t.Errorf("staleUDPFlows = %v, want only 9.0.1.3:53", got)
	}
	tcpHave := mustBuild(t, webService("9.0.1.2:80", "9.0.1.3:80")).Tables[IPv4]
	tcpWant := mustBuild(t, webService("9.0.1.2:80")).Tables[IPv4]
	if got := staleUDPFlows(tcpWant, tcpHave, Diff(tcpWant, tcpHave)); len(got) != 0 {
		t.Errorf("staleUDPFlows for TCP = %v, want none", got)
	}
}

// TestDiffDigestsMatchesDiff checks the digest shortcut against the full
// Diff over random edits: added, removed and re-weighted VIPs, replaced
// backends, VIPs losing every backend.
func TestDiffDigestsMatchesDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := scaleServicesN(200)
	prev := mustBuild(t, base...)
	for step := range 200 {
		next := slices.Clone(base)
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(next))
			s := next[i]
			s.Backends = slices.Clone(s.Backends)
			switch rng.IntN(5) {
			case 0: // replace a backend
				if len(s.Backends) == 0 {
					continue
				}
				nb := be(fmt.Sprintf("9.9.%d.%d:80", rng.IntN(250), rng.IntN(250)))
				if s.Key.IP.Is6() {
					nb = be(fmt.Sprintf("[fd01:b::9:%x]:53", rng.IntN(60000)))
				}
				s.Backends[rng.IntN(len(s.Backends))] = nb
			case 1: // drop a backend
				s.Backends = s.Backends[min(1, len(s.Backends)):]
			case 2: // no backend left: novip
				s.Backends = nil
			case 3: // weight: more slots
				if len(s.Backends) == 0 {
					continue
				}
				s.Weights = map[netip.AddrPort]int{s.Backends[0].AddrPort(): 3}
			case 4: // VIP gone
				next = slices.Delete(next, i, i+1)
				continue
			}
			next[i] = s
		}
		if rng.IntN(3) == 0 {
			next = append(next, webService(fmt.Sprintf("9.8.%d.2:80", step)))
			next[len(next)-1].Key.IP = netip.AddrFrom4([4]byte{11, 9, byte(step), 1})
		}
		want := mustBuild(t, next...)
		for _, f := range Families {
			full := Diff(want.Tables[f], prev.Tables[f]).String()
			fast := diffDigests(want.Tables[f], want.sums[f], prev.Tables[f], prev.sums[f]).String()
			if full != fast {
				t.Fatalf("step %d %s: diffDigests =\n%s\nDiff =\n%s", step, f, fast, full)
			}
		}
		prev, base = want, next
	}
}

// scaleServicesN is n VIPs of 3 backends in both families.
func scaleServicesN(n int) []Service {
	var out []Service
	for i := range n {
		s := webService(fmt.Sprintf("9.0.%d.2:80", i), fmt.Sprintf("9.0.%d.3:80", i), fmt.Sprintf("9.0.%d.4:80", i))
		s.Key.IP = netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)})
		if i%10 == 0 {
			s = Service{Key: ipKey("udp", fmt.Sprintf("fd01:c::%x", i+1), 53),
				Backends: []vip.Backend{be(fmt.Sprintf("[fd01:b::%x]:53", i+1)), be(fmt.Sprintf("[fd01:b::%x]:53", i+0x1000))}}
		}
		out = append(out, s)
	}
	return out
}

func TestSyncerHandMadePlan(t *testing.T) {
	k := NewFake()
	s := NewSyncer(k, nil)
	built := mustBuild(t, webService("9.0.1.2:80", "9.0.1.3:80"))
	if _, err := s.Apply(built); err != nil {
		t.Fatal(err)
	}
	// The same tables without digests: a full Diff finds nothing to do.
	hand := Plan{Tables: built.Tables}
	batches := k.Batches
	if _, err := s.Apply(hand); err != nil || k.Batches != batches {
		t.Errorf("Apply of a hand-made copy: %v, %d batches; want none", err, k.Batches-batches)
	}
	// A hand-made change is applied.
	hand.Tables[IPv4] = cloneState(built.Tables[IPv4])
	sk := SlotKey{ServiceKey: ServiceKey{Addr: netip.MustParseAddr("11.0.0.1"), Proto: protoTCP, Port: 80}, Slot: 1}
	hand.Tables[IPv4].Backends[sk] = netip.MustParseAddrPort("9.0.1.9:80")
	if _, err := s.Apply(hand); err != nil || k.Tables[IPv4].Backends[sk] != hand.Tables[IPv4].Backends[sk] {
		t.Errorf("Apply of a hand-made change: %v\n%s", err, k)
	}
	// Back to a built plan: the Syncer has no digests of the hand-made
	// one and diffs in full, restoring slot 1.
	if _, err := s.Apply(built); err != nil || k.Tables[IPv4].Backends[sk] != netip.MustParseAddrPort("9.0.1.3:80") {
		t.Errorf("Apply after a hand-made plan: %v\n%s", err, k)
	}
}

// TestSyncerMakesNoTableForAFamilyWithoutVIPs: an IPv4-only plan never
// creates the ip6 table (a kernel without IPv6 could not), and the first
// IPv6 VIP does.
func TestSyncerMakesNoTableForAFamilyWithoutVIPs(t *testing.T) {
	k := NewFake()
	s := NewSyncer(k, nil)
	if _, err := s.Apply(mustBuild(t, webService("9.0.1.2:80"))); err != nil {
		t.Fatal(err)
	}
	if k.Tables[IPv4] == nil || k.Tables[IPv6] != nil {
		t.Fatalf("tables after an IPv4-only plan: ip %v, ip6 %v; want only ip", k.Tables[IPv4] != nil, k.Tables[IPv6] != nil)
	}
	reads := k.Reads
	if _, err := s.Apply(mustBuild(t, webService("9.0.1.3:80"))); err != nil {
		t.Fatal(err)
	}
	if k.Reads != reads {
		t.Errorf("a second IPv4-only Apply read the kernel %d times", k.Reads-reads)
	}
	v6 := Service{Key: ipKey("tcp", "fd01:c::1", 80), Backends: []vip.Backend{be("[fd01:b::2]:80")}}
	if _, err := s.Apply(mustBuild(t, webService("9.0.1.3:80"), v6)); err != nil {
		t.Fatal(err)
	}
	if k.Tables[IPv6] == nil || len(k.Tables[IPv6].VIPs) != 1 {
		t.Errorf("the first IPv6 VIP did not build the ip6 table: %+v", k.Tables[IPv6])
	}
}

// TestSyncerRebuildDeletesUntranslatedUDP: after the table was deleted by
// hand, datagrams to a UDP VIP made untranslated entries; the rebuild
// deletes them, and the entries of a backend removed meanwhile.
func TestSyncerRebuildDeletesUntranslatedUDP(t *testing.T) {
	k, ct := NewFake(), &FakeConntrack{}
	s := NewSyncer(k, ct)
	if _, err := s.Apply(mustBuild(t, dnsService("9.0.1.2:53", "9.0.1.3:53"))); err != nil {
		t.Fatal(err)
	}
	k.Tables[IPv4] = nil // nft delete table ip dcnet-l4lb
	vipAP := netip.MustParseAddrPort("11.0.0.9:53")
	gone := UDPFlow{VIP: vipAP, Backend: netip.MustParseAddrPort("9.0.1.3:53")}
	ct.Entries = []UDPFlow{{VIP: vipAP, Backend: vipAP}, gone}
	if _, err := s.Reconcile(mustBuild(t, dnsService("9.0.1.2:53"))); err != nil {
		t.Fatal(err)
	}
	if len(ct.Entries) != 0 {
		t.Errorf("after the rebuild, entries left: %v (deleted %v)", ct.Entries, ct.Deleted)
	}
}

// TestSyncerPendingRetries: failed deletions are retried once each, and
// not at all for a backend that came back meanwhile.
func TestSyncerPendingRetries(t *testing.T) {
	k, ct := NewFake(), &FakeConntrack{}
	s := NewSyncer(k, ct)
	both, one := dnsService("9.0.1.2:53", "9.0.1.3:53"), dnsService("9.0.1.2:53")
	if _, err := s.Apply(mustBuild(t, both)); err != nil {
		t.Fatal(err)
	}
	ct.Fail = errors.New("netlink busy")
	for range 3 { // the backend flaps while deletions fail
		s.Apply(mustBuild(t, one))
		s.Apply(mustBuild(t, both))
	}
	s.Apply(mustBuild(t, one))
	if len(s.pending) != 1 {
		t.Errorf("pending after 4 failed deletions of one flow: %v, want it once", s.pending)
	}
	// Back again: the retry must not cut its live flows.
	ct.Fail = nil
	live := UDPFlow{VIP: netip.MustParseAddrPort("11.0.0.9:53"), Backend: netip.MustParseAddrPort("9.0.1.3:53")}
	ct.Entries = []UDPFlow{live}
	if _, err := s.Apply(mustBuild(t, both)); err != nil {
		t.Fatal(err)
	}
	if len(ct.Entries) != 1 || len(s.pending) != 0 {
		t.Errorf("a returned backend's live flow was deleted (%v left, deleted %v) or retries remain (%v)", ct.Entries, ct.Deleted, s.pending)
	}
}
