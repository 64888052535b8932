package forward

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Defaults of a Group.
const (
	// DefaultTimeout bounds one query to one upstream.
	DefaultTimeout = 5 * time.Second
	// DefaultHalfLife is the half-life of an upstream's failure score.
	DefaultHalfLife = 30 * time.Second
	// UDPSize is the EDNS0 buffer size advertised to upstreams.
	UDPSize = 1232
	// raceWidth is how many upstreams are raced when there are more than
	// raceAllBelow.
	raceWidth    = 2
	raceAllBelow = 3
)

// ErrNoUpstream means a group has no upstream to ask.
var ErrNoUpstream = errors.New("no upstream servers")

// Exchanger sends one query to one server. The default uses miekg/dns
// clients over UDP, retrying truncated answers over TCP.
type Exchanger interface {
	Exchange(ctx context.Context, req *dns.Msg, server string) (*dns.Msg, error)
}

// Group races a set of upstream servers. It is safe for concurrent use.
type Group struct {
	upstreams []*upstream
	timeout   time.Duration
	halfLife  time.Duration
	now       func() time.Time
	ex        Exchanger
}

// upstream is one server and its decaying failure score.
type upstream struct {
	addr  string
	mu    sync.Mutex
	score float64
	at    time.Time
}

// Config configures a Group.
type Config struct {
	// Servers are the upstreams, "ip:port" (port 53 when missing).
	Servers []string
	// Self are the server's own listen addresses, never forwarded to. An
	// unspecified IP (0.0.0.0:53) excludes loopback servers on its port.
	Self []netip.AddrPort
	// Timeout bounds one upstream query; default DefaultTimeout.
	Timeout time.Duration
	// HalfLife is the failure score's half-life; default DefaultHalfLife.
	HalfLife time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Exchanger sends queries; default UDP with TCP fallback.
	Exchanger Exchanger
}

// New returns a group of the configured servers minus Self.
func New(cfg Config) (*Group, error) {
	g := &Group{timeout: cfg.Timeout, halfLife: cfg.HalfLife, now: cfg.Now, ex: cfg.Exchanger}
	if g.timeout <= 0 {
		g.timeout = DefaultTimeout
	}
	if g.halfLife <= 0 {
		g.halfLife = DefaultHalfLife
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.ex == nil {
		g.ex = NetExchanger{}
	}
	seen := map[netip.AddrPort]bool{}
	for _, s := range cfg.Servers {
		ap, err := ParseServer(s)
		if err != nil {
			return nil, err
		}
		if seen[ap] || isSelf(ap, cfg.Self) {
			continue
		}
		seen[ap] = true
		g.upstreams = append(g.upstreams, &upstream{addr: ap.String()})
	}
	return g, nil
}

// ParseServer parses "ip" or "ip:port" (IPv6 as "[ip]:port"), port 53 by
// default.
func ParseServer(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("upstream %q: want ip or ip:port", s)
	}
	return netip.AddrPortFrom(ip.Unmap().WithZone(""), 53), nil
}

func isSelf(ap netip.AddrPort, self []netip.AddrPort) bool {
	for _, s := range self {
		if s.Port() != ap.Port() {
			continue
		}
		if s.Addr() == ap.Addr() || s.Addr().IsUnspecified() && (ap.Addr().IsLoopback() || ap.Addr().IsUnspecified()) {
			return true
		}
	}
	return false
}

// Servers lists the upstreams, in configuration order.
func (g *Group) Servers() []string {
	out := make([]string, len(g.upstreams))
	for i, u := range g.upstreams {
		out[i] = u.addr
	}
	return out
}

// Score is the current, decayed failure score of server (0 if unknown).
func (g *Group) Score(server string) float64 {
	for _, u := range g.upstreams {
		if u.addr == server {
			return u.current(g.now(), g.halfLife)
		}
	}
	return 0
}

func (u *upstream) current(now time.Time, halfLife time.Duration) float64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return decay(u.score, now.Sub(u.at), halfLife)
}

func (u *upstream) fail(now time.Time, halfLife time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.score = decay(u.score, now.Sub(u.at), halfLife) + 1
	u.at = now
}

func decay(score float64, age, halfLife time.Duration) float64 {
	if score == 0 || age <= 0 {
		return score
	}
	return score * math.Exp2(-float64(age)/float64(halfLife))
}

// Forward races req over the group's upstreams and returns the first good
// answer; the error names every failure when none answered.
func (g *Group) Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	if len(g.upstreams) == 0 {
		return nil, ErrNoUpstream
	}
	first, rest := g.pick()
	resp, err := g.race(ctx, req, first)
	if err == nil || len(rest) == 0 || ctx.Err() != nil {
		return resp, err
	}
	resp, err2 := g.race(ctx, req, rest)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	return resp, nil
}

// pick splits the upstreams into those raced first and the others.
func (g *Group) pick() (first, rest []*upstream) {
	if len(g.upstreams) < raceAllBelow {
		return g.upstreams, nil
	}
	now := g.now()
	type scored struct {
		u *upstream
		s float64
	}
	all := make([]scored, len(g.upstreams))
	for i, u := range g.upstreams {
		all[i] = scored{u, u.current(now, g.halfLife)}
	}
	slices.SortStableFunc(all, func(a, b scored) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	for i, s := range all {
		if i < raceWidth {
			first = append(first, s.u)
		} else {
			rest = append(rest, s.u)
		}
	}
	return first, rest
}

type result struct {
	resp *dns.Msg
	err  error
}

// race queries ups in parallel; the first good answer wins.
func (g *Group) race(ctx context.Context, req *dns.Msg, ups []*upstream) (*dns.Msg, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := upstreamQuery(req)
	results := make(chan result, len(ups))
	for _, u := range ups {
		go func() {
			resp, err := g.query(ctx, q, u)
			results <- result{resp, err}
		}()
	}
	var errs []error
	for range ups {
		r := <-results
		if r.err == nil {
			return r.resp, nil
		}
		errs = append(errs, r.err)
	}
	return nil, errors.Join(errs...)
}

// query asks one upstream, scoring a failure unless the race was decided.
func (g *Group) query(ctx context.Context, q *dns.Msg, u *upstream) (*dns.Msg, error) {
	qctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := g.ex.Exchange(qctx, q.Copy(), u.addr)
	if err == nil {
		err = checkResponse(q, resp)
	}
	if err != nil {
		if ctx.Err() == nil {
			u.fail(g.now(), g.halfLife)
		}
		return nil, fmt.Errorf("upstream %s: %w", u.addr, err)
	}
	return resp, nil
}

// checkResponse rejects answers that are not usable.
func checkResponse(q, resp *dns.Msg) error {
	if resp == nil {
		return errors.New("no response")
	}
	if resp.Id != q.Id {
		return fmt.Errorf("response id %d, want %d", resp.Id, q.Id)
	}
	if !SameQuestion(q, resp) {
		return fmt.Errorf("response to another question (%v), want %v", resp.Question, q.Question)
	}
	switch resp.Rcode {
	case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented, dns.RcodeFormatError:
		return fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode])
	}
	return nil
}

// upstreamQuery is req as sent upstream: a fresh ID, recursion desired, our
// own EDNS0 buffer size.
func upstreamQuery(req *dns.Msg) *dns.Msg {
	q := new(dns.Msg)
	q.Id = dns.Id()
	q.Opcode = dns.OpcodeQuery
	q.RecursionDesired = true
	q.CheckingDisabled = req.CheckingDisabled
	q.Question = slices.Clone(req.Question)
	do := false
	if o := req.IsEdns0(); o != nil {
		do = o.Do()
	}
	q.SetEdns0(UDPSize, do)
	return q
}

// SameQuestion reports whether resp answers exactly q's one question: the
// same name (ASCII case-insensitive), type and class. An answer to another
// question (a broken upstream, a spoof that guessed the ID) must be neither
// used nor cached under q's name.
func SameQuestion(q, resp *dns.Msg) bool {
	if len(q.Question) != 1 || len(resp.Question) != 1 {
		return false
	}
	a, b := q.Question[0], resp.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
