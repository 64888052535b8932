package server

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
)

// countingHandler counts the queries the handler gets, from the batch
// server's reader (inline) or its goroutines alike.
type countingHandler struct {
	h *Handler
	n chan string
}

func (c countingHandler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, inline := w.(*inlineWriter)
	if inline {
		c.n <- "inline " + req.Question[0].Name
	} else {
		c.n <- "goroutine " + req.Question[0].Name
	}
	c.h.ServeDNS(w, req)
}

// TestBatchInline: the batch server answers names of zones that answer
// from memory (record sets, address zones, static zones without CNAMEs)
// in its reader, exactly as the Handler answers them (truncation and
// EDNS included), and sends the rest (forwarded misses, CNAME zones) to
// goroutines.
func TestBatchInline(t *testing.T) {
	c := cache.New(cache.Config{})
	h := testHandler(t, c.Wrap(&upstream{}))
	cn := NewStaticZone("registry.component.thisdcos.directory.", mustRR(t, "registry.component.thisdcos.directory. 5 IN CNAME leader.mesos."))
	bulk := NewAddrZone("bulk.thisdcos.directory.")
	var many []netip.Addr
	for i := range 200 {
		many = append(many, netip.AddrFrom4([4]byte{10, 9, byte(i / 250), byte(i%250 + 1)}))
	}
	bulk.Apply([]NameAddrs{{Name: "many.bulk.thisdcos.directory.", Addrs: many}})
	h.zones = append(h.zones, cn, bulk)
	counted := countingHandler{h: h, n: make(chan string, 64)}
	f := NewFastPath(h, c, nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	go RunWith(ctx, []string{addr}, counted, Options{Sockets: 1, Fast: f}, func() { close(ready) })
	<-ready
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	edns := func(m *dns.Msg) *dns.Msg { m.SetEdns0(1232, false); return m }
	for _, tt := range []struct {
		req  *dns.Msg
		want string
	}{
		{query("leader.mesos.", dns.TypeA), "inline leader.mesos."},
		{query("nginx.marathon.mesos.", dns.TypeSRV), "inline nginx.marathon.mesos."},
		{query("nope.mesos.", dns.TypeA), "inline nope.mesos."},
		{edns(query("many.bulk.thisdcos.directory.", dns.TypeA)), "inline many.bulk.thisdcos.directory."}, // cut to 1232 bytes
		{query("many.bulk.thisdcos.directory.", dns.TypeA), "inline many.bulk.thisdcos.directory."},       // cut to 512 bytes
		// A static zone holding a CNAME: the Handler may chase it through
		// the forwarder, so not in the reader.
		{query("web.marathon.l4lb.thisdcos.directory.", dns.TypeA), "goroutine web.marathon.l4lb.thisdcos.directory."},
		{query("ready.spartan.", dns.TypeA), "inline ready.spartan."},
		{query("registry.component.thisdcos.directory.", dns.TypeA), "goroutine registry.component.thisdcos.directory."},
		{query("www.example.", dns.TypeA), "goroutine www.example."},
	} {
		got, _, err := udp.Exchange(tt.req, addr)
		if err != nil {
			t.Fatalf("%s: %v", tt.want, err)
		}
		if w := <-counted.n; w != tt.want {
			t.Errorf("served %q, want %q", w, tt.want)
		}
		want, _ := serve(t, h, tt.req, false)
		if d := cmp.Diff(answerText(want), answerText(got)); d != "" {
			t.Errorf("%s: batch answer differs from the handler's (-handler +batch):\n%s", tt.want, d)
		}
	}
}

// TestBatchLocalAnswers: a local name's answer is kept packed after the
// first query and sent again without the Handler (for other IDs, letter
// case and EDNS alike, with the Handler's bytes, but the owner names,
// compressed to point at the question, take its letter case as for the
// forwarded fast answers), until the zone changes.
func TestBatchLocalAnswers(t *testing.T) {
	h := testHandler(t, nil)
	zone := NewAddrZone("bulk.thisdcos.directory.")
	name := "app.bulk.thisdcos.directory."
	zone.Apply([]NameAddrs{{Name: name, Addrs: []netip.Addr{netip.MustParseAddr("9.0.0.7")}}})
	h.zones = append(h.zones, zone)
	counted := countingHandler{h: h, n: make(chan string, 64)}
	f := NewFastPath(h, cache.New(cache.Config{}), nil)
	var hits []string
	f.SetLocalAnswered(func(apex string) { hits = append(hits, apex) })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	go RunWith(ctx, []string{addr}, counted, Options{Sockets: 1, Fast: f}, func() { close(ready) })
	<-ready
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	ask := func(req *dns.Msg) *dns.Msg {
		t.Helper()
		resp, _, err := udp.Exchange(req, addr)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	handled := func() int {
		n := 0
		for {
			select {
			case <-counted.n:
				n++
			default:
				return n
			}
		}
	}
	ask(query(name, dns.TypeA))
	if n := handled(); n != 1 {
		t.Fatalf("first query: handler saw %d", n)
	}
	mixed := query("App.Bulk.thisdcos.directory.", dns.TypeA)
	mixed.SetEdns0(1232, false)
	got := ask(mixed)
	want, _ := serve(t, h, mixed, false)
	if n := handled(); n != 0 || len(hits) != 1 || hits[0] != zone.Name() {
		t.Errorf("second query: handler saw %d, kept answers sent %v", n, hits)
	}
	lower := func(lines []string) []string {
		for i, l := range lines {
			lines[i] = strings.ToLower(l)
		}
		return lines
	}
	if d := cmp.Diff(lower(answerText(want)), lower(answerText(got))); d != "" || got.Question[0].Name != mixed.Question[0].Name || got.IsEdns0() == nil {
		t.Errorf("kept answer differs (-handler +kept):\n%s\nquestion %s, OPT %v", d, got.Question[0].Name, got.IsEdns0())
	}
	zone.Apply([]NameAddrs{{Name: name, Addrs: []netip.Addr{netip.MustParseAddr("9.0.0.8")}}})
	if got := ask(query(name, dns.TypeA)); len(got.Answer) != 1 || got.Answer[0].(*dns.A).A.String() != "9.0.0.8" {
		t.Errorf("after the zone changed: %v", got.Answer)
	}
	if n := handled(); n != 1 {
		t.Errorf("after the zone changed: handler saw %d, want 1", n)
	}
}
