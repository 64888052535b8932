package cache

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestCache(size int) (*Cache, *clock) {
	c := &clock{now: time.Unix(1000, 0)}
	return New(Config{Size: size, Now: c.Now}), c
}

func req(name string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	return m
}

func reply(t *testing.T, name string, rcode int, rrs ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetRcode(req(name), rcode)
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rr.(*dns.SOA); ok {
			m.Ns = append(m.Ns, rr)
		} else {
			m.Answer = append(m.Answer, rr)
		}
	}
	return m
}

func TestPositiveTTL(t *testing.T) {
	c, clk := newTestCache(10)
	c.Put(reply(t, "a.example.", dns.RcodeSuccess, "a.example. 30 IN A 10.0.0.1", "a.example. 60 IN A 10.0.0.2"))
	q := req("A.Example.")
	got := c.Get(q)
	if got == nil || got.Id != q.Id || len(got.Answer) != 2 {
		t.Fatalf("hit: %v", got)
	}
	clk.Add(10 * time.Second)
	got = c.Get(req("a.example."))
	if ttl := got.Answer[0].Header().Ttl; ttl != 20 {
		t.Errorf("ttl after 10 s: %d, want 20", ttl)
	}
	if ttl := got.Answer[1].Header().Ttl; ttl != 50 {
		t.Errorf("second ttl after 10 s: %d, want 50", ttl)
	}
	// Lives for the minimum TTL, 30 s.
	clk.Add(19 * time.Second)
	if c.Get(req("a.example.")) == nil {
		t.Error("expired early")
	}
	clk.Add(time.Second)
	if c.Get(req("a.example.")) != nil {
		t.Error("still cached after the minimum TTL")
	}
	// Capped at MaxTTL.
	c.Put(reply(t, "long.example.", dns.RcodeSuccess, "long.example. 999999 IN A 10.0.0.1"))
	clk.Add(DefaultMaxTTL)
	if c.Get(req("long.example.")) != nil {
		t.Error("cached past MaxTTL")
	}
}

func TestNegative(t *testing.T) {
	c, clk := newTestCache(10)
	const soa = "example. 300 IN SOA ns.example. host.example. 1 60 60 600 20"
	c.Put(reply(t, "nx.example.", dns.RcodeNameError, soa))
	c.Put(reply(t, "nodata.example.", dns.RcodeSuccess, soa))
	c.Put(reply(t, "nosoa.example.", dns.RcodeNameError))
	for _, n := range []string{"nx.example.", "nodata.example."} {
		got := c.Get(req(n))
		if got == nil || len(got.Ns) != 1 {
			t.Fatalf("%s: negative answer not cached: %v", n, got)
		}
	}
	if c.Get(req("nx.example.")).Rcode != dns.RcodeNameError {
		t.Error("NXDOMAIN rcode lost")
	}
	// RFC 2308: the SOA is served with TTL min(300, MINIMUM 20).
	if ttl := c.Get(req("nx.example.")).Ns[0].Header().Ttl; ttl != 20 {
		t.Errorf("negative answer's SOA TTL %d, want 20 (its MINIMUM)", ttl)
	}
	if c.Get(req("nosoa.example.")) != nil {
		t.Error("negative answer without SOA cached")
	}
	// min(SOA TTL 300, MINIMUM 20) = 20 s.
	clk.Add(20 * time.Second)
	if c.Get(req("nx.example.")) != nil || c.Get(req("nodata.example.")) != nil {
		t.Error("negative answers outlived the SOA minimum")
	}
}

func TestNotCached(t *testing.T) {
	c, _ := newTestCache(10)
	c.Put(reply(t, "sf.example.", dns.RcodeServerFailure))
	tc := reply(t, "tc.example.", dns.RcodeSuccess, "tc.example. 60 IN A 10.0.0.1")
	tc.Truncated = true
	c.Put(tc)
	c.Put(reply(t, "zero.example.", dns.RcodeSuccess, "zero.example. 0 IN A 10.0.0.1"))
	c.Put(reply(t, "refused.example.", dns.RcodeRefused))
	c.Put(nil)
	if c.Len() != 0 {
		t.Errorf("%d entries, want none", c.Len())
	}
}

func TestBound(t *testing.T) {
	c, _ := newTestCache(3)
	for i := range 5 {
		n := fmt.Sprintf("n%d.example.", i)
		c.Put(reply(t, n, dns.RcodeSuccess, n+" 60 IN A 10.0.0.1"))
		if i == 2 {
			c.Get(req("n0.example.")) // n0 most recently used
		}
	}
	if c.Len() != 3 {
		t.Errorf("%d entries, want 3", c.Len())
	}
	for n, want := range map[string]bool{"n0.example.": true, "n1.example.": false, "n2.example.": false, "n3.example.": true, "n4.example.": true} {
		if got := c.Get(req(n)) != nil; got != want {
			t.Errorf("%s cached %v, want %v", n, got, want)
		}
	}
}

type countingForwarder struct {
	mu   sync.Mutex
	n    int
	resp *dns.Msg
}

func (f *countingForwarder) Forward(_ context.Context, r *dns.Msg) (*dns.Msg, error) {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	m := f.resp.Copy()
	m.Id = r.Id
	return m, nil
}

func TestWrapConcurrent(t *testing.T) {
	c, _ := newTestCache(100)
	f := &countingForwarder{resp: reply(t, "a.example.", dns.RcodeSuccess, "a.example. 60 IN A 10.0.0.1")}
	w := c.Wrap(f)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				r := req("a.example.")
				got, err := w.Forward(context.Background(), r)
				if err != nil || got.Id != r.Id || len(got.Answer) != 1 {
					t.Errorf("got %v %v", got, err)
					return
				}
				got.Answer[0].Header().Ttl = 0 // callers may not corrupt the cache
			}
		})
	}
	wg.Wait()
	if f.n > 50 {
		t.Errorf("forwarded %d times for 1000 questions", f.n)
	}
	if ttl := c.Get(req("a.example.")).Answer[0].Header().Ttl; ttl != 60 {
		t.Errorf("cached ttl %d, want 60", ttl)
	}
}

// TestWrapSkipsDNSSECQuestions: a CD or DO question neither reads nor fills
// the cache, so an unvalidated (CD) answer never reaches plain clients and
// a validating (DO) client never gets an answer stripped of signatures.
func TestWrapSkipsDNSSECQuestions(t *testing.T) {
	c, _ := newTestCache(10)
	f := &countingForwarder{resp: reply(t, "www.example.", dns.RcodeSuccess, "www.example. 60 IN A 192.0.2.1")}
	w := c.Wrap(f)
	cd := req("www.example.")
	cd.CheckingDisabled = true
	do := req("www.example.")
	do.SetEdns0(4096, true)
	for i, r := range []*dns.Msg{cd, cd, do, do} {
		if _, err := w.Forward(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if f.n != i+1 {
			t.Fatalf("question %d went upstream %d times in all, want %d (a DNSSEC question was answered from the cache)", i, f.n, i+1)
		}
	}
	if c.Len() != 0 {
		t.Errorf("DNSSEC questions filled the cache: %d entries", c.Len())
	}
	w.Forward(context.Background(), req("www.example."))
	w.Forward(context.Background(), req("www.example."))
	if f.n != 5 {
		t.Errorf("a plain question twice: %d upstream questions in all, want 5 (the second from the cache)", f.n)
	}
}

// TestWrapKeysByTheQuestionAsked: an answer to another question than the
// one asked is passed on but not cached under either name.
func TestWrapKeysByTheQuestionAsked(t *testing.T) {
	c, _ := newTestCache(10)
	f := &countingForwarder{resp: reply(t, "victim.example.", dns.RcodeSuccess, "victim.example. 60 IN A 192.0.2.66")}
	w := c.Wrap(f)
	w.Forward(context.Background(), req("attacker.example."))
	if c.Len() != 0 {
		t.Fatalf("an answer to another question was cached (%d entries)", c.Len())
	}
	if got := c.Get(req("victim.example.")); got != nil {
		t.Errorf("victim.example. answered from the cache: %v", got)
	}
}
