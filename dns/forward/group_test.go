package forward

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeUpstream is a miekg/dns server on a random loopback UDP port
// answering every A question with ip after delay.
type fakeUpstream struct {
	addr    string
	mu      sync.Mutex
	queries int
}

func startUpstream(t *testing.T, ip string, delay time.Duration, rcode int) *fakeUpstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &fakeUpstream{addr: pc.LocalAddr().String()}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			u.mu.Lock()
			u.queries++
			u.mu.Unlock()
			time.Sleep(delay)
			m := new(dns.Msg)
			m.SetRcode(req, rcode)
			if rcode == dns.RcodeSuccess {
				rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN A " + ip)
				m.Answer = append(m.Answer, rr)
			}
			w.WriteMsg(m)
		})}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return u
}

func (u *fakeUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.queries
}

// deadAddr is a loopback UDP port with nothing listening.
func deadAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := pc.LocalAddr().String()
	pc.Close()
	return a
}

// blackhole is a loopback UDP socket that reads and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func ask(t *testing.T, g *Group, name string) (*dns.Msg, error) {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(name, dns.TypeA)
	return g.Forward(context.Background(), req)
}

func answerIP(m *dns.Msg) string {
	if m == nil || len(m.Answer) == 0 {
		return ""
	}
	return m.Answer[0].(*dns.A).A.String()
}

func TestRaceFirstAnswerWins(t *testing.T) {
	slow := startUpstream(t, "10.0.0.1", 500*time.Millisecond, dns.RcodeSuccess)
	// The fast one answers after 50 ms so that both queries are surely on
	// the wire before the race is decided (an answer that wins sooner may
	// cancel a query not yet sent, which is fine but not what this tests).
	fast := startUpstream(t, "10.0.0.2", 50*time.Millisecond, dns.RcodeSuccess)
	g, err := New(Config{Servers: []string{slow.addr, fast.addr}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := ask(t, g, "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	if got := answerIP(resp); got != "10.0.0.2" {
		t.Errorf("answer %s, want the fast upstream's 10.0.0.2", got)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("took %v, the fast answer should win at once", d)
	}
	// The slow upstream's query may still be on its way when the fast
	// answer wins: wait (bounded) until it has arrived.
	for i := 0; i < 100 && slow.count() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if slow.count() != 1 || fast.count() != 1 {
		t.Errorf("queries slow %d fast %d, want both raced once", slow.count(), fast.count())
	}
	if g.Score(slow.addr) != 0 {
		t.Errorf("slow upstream scored %v for losing a race", g.Score(slow.addr))
	}
}

func TestRaceTwoOfThree(t *testing.T) {
	ups := []*fakeUpstream{
		startUpstream(t, "10.0.0.1", 0, dns.RcodeSuccess),
		startUpstream(t, "10.0.0.2", 0, dns.RcodeSuccess),
		startUpstream(t, "10.0.0.3", 0, dns.RcodeSuccess),
	}
	g, err := New(Config{Servers: []string{ups[0].addr, ups[1].addr, ups[2].addr}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ask(t, g, "example.com."); err != nil {
		t.Fatal(err)
	}
	// Let a loser's query land.
	time.Sleep(50 * time.Millisecond)
	if got := ups[0].count() + ups[1].count(); got == 0 || ups[2].count() != 0 {
		t.Errorf("queries %d %d %d, want only the first two raced", ups[0].count(), ups[1].count(), ups[2].count())
	}
}

func TestDeadUpstreamSkippedAndScoreDecays(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dead := deadAddr(t)
	a := startUpstream(t, "10.0.0.1", 0, dns.RcodeSuccess)
	b := startUpstream(t, "10.0.0.2", 20*time.Millisecond, dns.RcodeSuccess)
	sf := startUpstream(t, "", 0, dns.RcodeServerFailure)
	g, err := New(Config{Servers: []string{dead, sf.addr, a.addr, b.addr}, Timeout: time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	// First query races dead and SERVFAIL (lowest scores, configuration
	// order); both fail, so the others answer.
	resp, err := ask(t, g, "example.com.")
	if err != nil {
		t.Fatalf("want an answer from the second round: %v", err)
	}
	if ip := answerIP(resp); ip != "10.0.0.1" && ip != "10.0.0.2" {
		t.Errorf("answer %q", ip)
	}
	if g.Score(dead) != 1 || g.Score(sf.addr) != 1 {
		t.Errorf("scores dead %v servfail %v, want 1 1", g.Score(dead), g.Score(sf.addr))
	}
	// Now the live ones are raced; the failed ones are skipped.
	before := sf.count()
	for range 3 {
		if _, err := ask(t, g, "example.com."); err != nil {
			t.Fatal(err)
		}
	}
	if sf.count() != before {
		t.Errorf("failed upstream asked %d more times", sf.count()-before)
	}
	// The score halves every half-life.
	mu.Lock()
	now = now.Add(DefaultHalfLife)
	mu.Unlock()
	if s := g.Score(dead); s < 0.49 || s > 0.51 {
		t.Errorf("score after one half-life %v, want 0.5", s)
	}
	mu.Lock()
	now = now.Add(10 * DefaultHalfLife)
	mu.Unlock()
	if s := g.Score(dead); s > 0.001 {
		t.Errorf("score after 11 half-lives %v, want ~0", s)
	}
}

func TestAllDeadServfailWithinTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	g, err := New(Config{Servers: []string{blackhole(t), blackhole(t)}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = ask(t, g, "example.com.")
	if err == nil {
		t.Fatal("want an error when every upstream is dead")
	}
	if d := time.Since(start); d > timeout+150*time.Millisecond {
		t.Errorf("took %v, timeout %v", d, timeout)
	}
	for _, s := range g.Servers() {
		if g.Score(s) < 0.9 {
			t.Errorf("%s: score %v after a timeout", s, g.Score(s))
		}
	}
	if empty, _ := New(Config{}); empty != nil {
		if _, err := ask(t, empty, "example.com."); err != ErrNoUpstream {
			t.Errorf("no upstreams: %v", err)
		}
	}
}

func TestNeverSelf(t *testing.T) {
	self := []netip.AddrPort{netip.MustParseAddrPort("198.51.100.1:53"), netip.MustParseAddrPort("0.0.0.0:5353")}
	g, err := New(Config{
		Servers: []string{"198.51.100.1", "198.51.100.1:53", "198.51.100.2:53", "127.0.0.1:5353", "127.0.0.1:53", "8.8.8.8", "8.8.8.8:53"},
		Self:    self,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(g.Servers(), " ")
	if want := "198.51.100.2:53 127.0.0.1:53 8.8.8.8:53"; got != want {
		t.Errorf("servers %q, want %q", got, want)
	}
	if _, err := New(Config{Servers: []string{"not-an-ip"}}); err == nil {
		t.Error("want an error for a host name upstream")
	}
}

func TestCheckResponseWantsTheSameQuestion(t *testing.T) {
	q := new(dns.Msg).SetQuestion("www.example.", dns.TypeA)
	for _, tc := range []struct {
		name string
		resp func() *dns.Msg
		ok   bool
	}{
		{"same", func() *dns.Msg { return new(dns.Msg).SetReply(q) }, true},
		{"other case", func() *dns.Msg {
			r := new(dns.Msg).SetReply(q)
			r.Question[0].Name = "WWW.Example."
			return r
		}, true},
		{"other name", func() *dns.Msg {
			r := new(dns.Msg).SetReply(q)
			r.Question[0].Name = "victim.example."
			return r
		}, false},
		{"other type", func() *dns.Msg {
			r := new(dns.Msg).SetReply(q)
			r.Question[0].Qtype = dns.TypeAAAA
			return r
		}, false},
		{"no question", func() *dns.Msg {
			r := new(dns.Msg).SetReply(q)
			r.Question = nil
			return r
		}, false},
	} {
		if err := checkResponse(q, tc.resp()); (err == nil) != tc.ok {
			t.Errorf("%s: checkResponse = %v, want ok %t", tc.name, err, tc.ok)
		}
	}
}
