package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
)

// upstream answers every name below example. with A 192.0.2.1, TTL 60,
// nx.example. with NXDOMAIN, big.example. with 60 addresses, and counts
// the questions it got.
type upstream struct {
	mu    sync.Mutex
	asked int
}

func (u *upstream) Forward(_ context.Context, req *dns.Msg) (*dns.Msg, error) {
	u.mu.Lock()
	u.asked++
	u.mu.Unlock()
	resp := new(dns.Msg).SetReply(req)
	resp.RecursionAvailable = true
	name := strings.ToLower(req.Question[0].Name)
	switch {
	case name == "nx.example.":
		resp.Rcode = dns.RcodeNameError
		soa, _ := dns.NewRR("example. 300 IN SOA ns.example. h.example. 1 60 60 60 30")
		resp.Ns = []dns.RR{soa}
	case name == "big.example.":
		for i := range 60 {
			rr, _ := dns.NewRR(fmt.Sprintf("big.example. 60 IN A 192.0.2.%d", i+1))
			resp.Answer = append(resp.Answer, rr)
		}
	default:
		rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN A 192.0.2.1")
		resp.Answer = []dns.RR{rr}
	}
	return resp, nil
}

// TestFastPathSameAnswer: for a cached forwarded question the fast path
// sends what the Handler sends (same header bits, question as asked, TTLs
// decremented by the age, OPT), and leaves everything else to it.
func TestFastPathSameAnswer(t *testing.T) {
	now := time.Unix(1000, 0)
	c := cache.New(cache.Config{Now: func() time.Time { return now }})
	up := &upstream{}
	h := testHandler(t, c.Wrap(up))
	var rcodes []int
	f := NewFastPath(h, c, func(rc int) { rcodes = append(rcodes, rc) })

	withOPT := func(m *dns.Msg, size uint16) *dns.Msg { m.SetEdns0(size, false); return m }
	flags := func(m *dns.Msg) *dns.Msg { m.RecursionDesired, m.Id = false, 4242; return m }
	cd := func(m *dns.Msg) *dns.Msg { m.CheckingDisabled = true; return m }
	do := func(m *dns.Msg) *dns.Msg { m.SetEdns0(4096, true); return m }
	for _, tc := range []struct {
		name string
		req  *dns.Msg
		fast bool
	}{
		{"plain", query("www.example.", dns.TypeA), true},
		{"case kept", query("WwW.ExAmple.", dns.TypeA), true},
		{"edns", withOPT(query("www.example.", dns.TypeA), 4096), true},
		{"rd clear, other id", flags(query("www.example.", dns.TypeA)), true},
		// DNSSEC-aware questions are never answered from the cache.
		{"cd set", cd(query("www.example.", dns.TypeA)), false},
		{"do set", do(query("www.example.", dns.TypeA)), false},
		{"nxdomain", query("nx.example.", dns.TypeA), true},
		{"other type not cached", query("www.example.", dns.TypeTXT), false},
		{"local zone", query("web.marathon.l4lb.thisdcos.directory.", dns.TypeA), false},
		{"local zone apex", query("l4lb.thisdcos.directory.", dns.TypeSOA), false},
		{"too big for 512", query("big.example.", dns.TypeA), false},
		{"big with edns", withOPT(query("big.example.", dns.TypeA), 4096), true},
		{"edns version 1", func() *dns.Msg {
			m := withOPT(query("www.example.", dns.TypeA), 4096)
			m.IsEdns0().SetVersion(1)
			return m
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Fill the cache through the Handler (for the cacheable ones),
			// age it, then compare.
			now = time.Unix(1000, 0)
			for _, q := range []string{"www.example.", "nx.example.", "big.example."} {
				serve(t, h, withOPT(query(q, dns.TypeA), 4096), true)
			}
			now = now.Add(7 * time.Second)
			wire, err := tc.req.Pack()
			if err != nil {
				t.Fatal(err)
			}
			got, ok := f.Answer(nil, wire)
			if ok != tc.fast {
				t.Fatalf("fast %t, want %t", ok, tc.fast)
			}
			if !ok {
				return
			}
			fast := new(dns.Msg)
			if err := fast.Unpack(got); err != nil {
				t.Fatal(err)
			}
			slow, _ := serve(t, h, tc.req, false)
			// The fast answer's owner names point at the question as asked
			// (compression), so they take its case: compare without case.
			if d := cmp.Diff(strings.ToLower(slow.String()), strings.ToLower(fast.String())); d != "" {
				t.Errorf("fast answer differs from the handler's (-handler +fast):\n%s", d)
			}
			if len(fast.Answer) > 0 && fast.Answer[0].Header().Ttl >= 60 {
				t.Errorf("TTL %d not decremented", fast.Answer[0].Header().Ttl)
			}
		})
	}
	if len(rcodes) == 0 || rcodes[len(rcodes)-1] != dns.RcodeSuccess {
		t.Errorf("answered rcodes %v", rcodes)
	}
}

// TestFastPathMalformed: requests the fast path must not answer.
func TestFastPathMalformed(t *testing.T) {
	c := cache.New(cache.Config{})
	f := NewFastPath(testHandler(t, nil), c, nil)
	good, _ := query("www.example.", dns.TypeA).Pack()
	resp := new(dns.Msg).SetReply(query("www.example.", dns.TypeA))
	rr, _ := dns.NewRR("www.example. 60 IN A 192.0.2.1")
	resp.Answer = []dns.RR{rr}
	c.Put(resp)
	if _, ok := f.Answer(nil, good); !ok {
		t.Fatal("a good query is not answered")
	}
	for name, b := range map[string][]byte{
		"short":         good[:11],
		"cut name":      good[:15],
		"trailing byte": append(append([]byte(nil), good...), 0),
		"response":      append([]byte{good[0], good[1], good[2] | 0x80}, good[3:]...),
		"two questions": append(append([]byte(nil), good[:5]...), append([]byte{2}, good[6:]...)...),
		"pointer":       append(append([]byte(nil), good[:12]...), 0xc0, 12, 0, 1, 0, 1),
	} {
		if _, ok := f.Answer(nil, b); ok {
			t.Errorf("%s: answered", name)
		}
	}
}

func BenchmarkFastPath(b *testing.B) {
	c := cache.New(cache.Config{})
	f := NewFastPath(testHandler(b, nil), c, nil)
	resp := new(dns.Msg).SetReply(query("www.example.", dns.TypeA))
	rr, _ := dns.NewRR("www.example. 60 IN A 192.0.2.1")
	resp.Answer = []dns.RR{rr}
	c.Put(resp)
	req, _ := query("www.example.", dns.TypeA).Pack()
	buf, key := make([]byte, 0, 512), make([]byte, 0, maxKeyLen)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := f.answer(buf[:0], req, key); !ok {
			b.Fatal("miss")
		}
	}
}

// TestRunSocketsFastPath serves on two SO_REUSEPORT sockets with the fast
// path: a forwarded name is asked upstream once, then answered from the
// cache (by the fast path) on every socket; local names and TCP still
// work.
func TestRunSocketsFastPath(t *testing.T) {
	up := &upstream{}
	c := cache.New(cache.Config{})
	h := testHandler(t, c.Wrap(up))
	fast := 0
	var mu sync.Mutex
	f := NewFastPath(h, c, func(int) { mu.Lock(); fast++; mu.Unlock() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- RunWith(ctx, []string{addr}, h, Options{Sockets: 2, Fast: f}, func() { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for i := range 20 {
		// New client sockets, so SO_REUSEPORT spreads them.
		resp, _, err := udp.Exchange(query("www.example.", dns.TypeA), addr)
		if err != nil || len(resp.Answer) != 1 {
			t.Fatalf("query %d: %v %v", i, resp, err)
		}
	}
	up.mu.Lock()
	asked := up.asked
	up.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if asked != 1 || fast != 19 {
		t.Errorf("upstream asked %d times, fast answers %d; want 1 and 19", asked, fast)
	}
	resp, _, err := udp.Exchange(query("web.marathon.l4lb.thisdcos.directory.", dns.TypeA), addr)
	if err != nil || len(resp.Answer) != 1 || !resp.Authoritative {
		t.Errorf("local name: %v %v", resp, err)
	}
	tcp := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	if resp, _, err := tcp.Exchange(query("www.example.", dns.TypeA), addr); err != nil || len(resp.Answer) != 1 {
		t.Errorf("tcp: %v %v", resp, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

// TestFastPathReader: the fast path inside a dns.Server's reader (as for
// sockets bound to 0.0.0.0 or ::) answers hits itself and hands the rest
// to the server.
func TestFastPathReader(t *testing.T) {
	up := &upstream{}
	c := cache.New(cache.Config{})
	h := testHandler(t, c.Wrap(up))
	var mu sync.Mutex
	fast := 0
	f := NewFastPath(h, c, func(int) { mu.Lock(); fast++; mu.Unlock() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	s := &dns.Server{PacketConn: pc, Handler: h, DecorateReader: f.Reader, NotifyStartedFunc: func() { close(started) }}
	go s.ActivateAndServe()
	<-started
	defer s.Shutdown()
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for i, name := range []string{"www.example.", "WWW.example.", "web.marathon.l4lb.thisdcos.directory."} {
		resp, _, err := udp.Exchange(query(name, dns.TypeA), pc.LocalAddr().String())
		if err != nil || len(resp.Answer) != 1 || resp.Question[0].Name != name {
			t.Fatalf("query %d %s: %v %v", i, name, resp, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fast != 1 {
		t.Errorf("fast answers %d, want 1 (the second question)", fast)
	}
}

func TestAddrZoneAddrs(t *testing.T) {
	z := NewAddrZone("l4lb.thisdcos.directory.")
	name := "web.marathon.l4lb.thisdcos.directory."
	z.Apply([]NameAddrs{{Name: name, Addrs: []netip.Addr{netip.MustParseAddr("fd01:c::1"), netip.MustParseAddr("11.0.0.1")}}})
	got := z.Addrs(name)
	if len(got) != 2 || got[0].String() != "11.0.0.1" || got[1].String() != "fd01:c::1" {
		t.Errorf("Addrs = %v, want [11.0.0.1 fd01:c::1]", got)
	}
	if got := z.Addrs("nope.l4lb.thisdcos.directory."); len(got) != 0 {
		t.Errorf("Addrs of an unknown name = %v", got)
	}
}
