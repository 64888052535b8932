package cache

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/forward"
)

// Defaults of a Cache.
const (
	// DefaultSize is the default bound on entries.
	DefaultSize = 10000
	// DefaultMaxTTL caps the lifetime of a positive answer.
	DefaultMaxTTL = time.Hour
	// DefaultMaxNegativeTTL caps the lifetime of a negative answer.
	DefaultMaxNegativeTTL = 5 * time.Minute
)

// Config configures a Cache.
type Config struct {
	// Size bounds the number of entries; default DefaultSize.
	Size int
	// MaxTTL caps positive entries; default DefaultMaxTTL.
	MaxTTL time.Duration
	// MaxNegativeTTL caps negative entries; default DefaultMaxNegativeTTL.
	MaxNegativeTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Cache is a bounded LRU cache of DNS responses, safe for concurrent use.
type Cache struct {
	cfg     Config
	mu      sync.Mutex
	entries map[key]*list.Element
	lru     *list.List // of *entry, most recently used first
}

// key is a question in wire form (AppendKey).
type key = string

type entry struct {
	key     key
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
	// wire is msg packed for the fast path (AppendPacked); nil when it
	// cannot be. ttls are the offsets of its TTL fields.
	wire []byte
	ttls []uint16
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.MaxNegativeTTL <= 0 {
		cfg.MaxNegativeTTL = DefaultMaxNegativeTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Cache{cfg: cfg, entries: map[key]*list.Element{}, lru: list.New()}
}

func keyOf(q dns.Question) key {
	var buf [maxKeyLen]byte
	return key(AppendKey(buf[:0], q.Name, q.Qtype, q.Qclass))
}

// maxKeyLen bounds a key: a name in wire form, type and class.
const maxKeyLen = 255 + 4

// AppendKey appends the cache key of a question to dst: the name in wire
// form with ASCII letters lower-cased, then type and class, big-endian; a
// fast path reading a query off the wire builds the same bytes from it. A
// name that does not pack is keyed by its lower-cased text after a 0xff
// byte (which no wire name starts with).
func AppendKey(dst []byte, name string, qtype, qclass uint16) []byte {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		dst = append(append(dst, 0xff), strings.ToLower(name)...)
	} else {
		for _, b := range buf[:n] {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			dst = append(dst, b)
		}
	}
	return append(dst, byte(qtype>>8), byte(qtype), byte(qclass>>8), byte(qclass))
}

// Len is the number of entries, expired ones included.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Get returns a copy of the cached answer to req's question with TTLs
// decremented by its age, or nil.
func (c *Cache) Get(req *dns.Msg) *dns.Msg {
	if len(req.Question) != 1 {
		return nil
	}
	k := keyOf(req.Question[0])
	now := c.cfg.Now()
	c.mu.Lock()
	el, ok := c.entries[k]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, k)
		c.mu.Unlock()
		return nil
	}
	c.lru.MoveToFront(el)
	c.mu.Unlock()
	age := uint32(now.Sub(e.stored) / time.Second)
	resp := e.msg.Copy()
	for _, sec := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			if h.Ttl > age {
				h.Ttl -= age
			} else {
				h.Ttl = 0
			}
		}
	}
	resp.Id = req.Id
	return resp
}

// Put caches resp, the answer to its own question, when it is cacheable.
func (c *Cache) Put(resp *dns.Msg) {
	ttl, ok := c.lifetime(resp)
	if !ok {
		return
	}
	k := keyOf(resp.Question[0])
	now := c.cfg.Now()
	e := &entry{key: k, msg: resp.Copy(), stored: now, expires: now.Add(ttl)}
	if len(e.msg.Answer) == 0 {
		// RFC 2308 section 5: a negative answer's SOA is served with a
		// TTL of at most its MINIMUM, so resolvers behind us do not keep
		// the negative answer longer than its authority meant.
		if soa := findSOA(e.msg.Ns); soa != nil && soa.Hdr.Ttl > soa.Minttl {
			soa.Hdr.Ttl = soa.Minttl
		}
	}
	e.wire, e.ttls = packWire(e.msg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[k] = c.lru.PushFront(e)
	for c.lru.Len() > c.cfg.Size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*entry).key)
	}
}

// lifetime is how long resp may be cached, and whether it may be at all.
func (c *Cache) lifetime(resp *dns.Msg) (time.Duration, bool) {
	if resp == nil || resp.Truncated || len(resp.Question) != 1 {
		return 0, false
	}
	var ttl uint32
	switch {
	case resp.Rcode == dns.RcodeSuccess && len(resp.Answer) > 0:
		ttl = minTTL(resp.Answer, resp.Ns)
		return capTTL(ttl, c.cfg.MaxTTL)
	case resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError:
		soa := findSOA(resp.Ns)
		if soa == nil {
			return 0, false
		}
		ttl = min(soa.Hdr.Ttl, soa.Minttl)
		return capTTL(ttl, c.cfg.MaxNegativeTTL)
	}
	return 0, false
}

func capTTL(ttl uint32, maxTTL time.Duration) (time.Duration, bool) {
	if ttl == 0 {
		return 0, false
	}
	return min(time.Duration(ttl)*time.Second, maxTTL), true
}

func minTTL(sections ...[]dns.RR) uint32 {
	first := true
	var m uint32
	for _, sec := range sections {
		for _, rr := range sec {
			if t := rr.Header().Ttl; first || t < m {
				m, first = t, false
			}
		}
	}
	return m
}

func findSOA(rrs []dns.RR) *dns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// Forwarder is what Wrap puts the cache in front of.
type Forwarder interface {
	Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error)
}

// Wrap returns a forwarder answering from c and filling it from f.
func (c *Cache) Wrap(f Forwarder) Forwarder { return cached{c: c, f: f} }

type cached struct {
	c *Cache
	f Forwarder
}

func (w cached) Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	if !Cacheable(req) {
		return w.f.Forward(ctx, req)
	}
	if resp := w.c.Get(req); resp != nil {
		return resp, nil
	}
	resp, err := w.f.Forward(ctx, req)
	if err == nil && resp != nil && forward.SameQuestion(req, resp) {
		w.c.Put(resp)
	}
	return resp, err
}

// Cacheable reports whether answers to req may come from and go to the
// cache: not for DNSSEC-aware questions (DO or CD set), whose answers
// differ (signatures, unvalidated data) from everyone else's, so the cache
// holds only what a plain stub resolver asks.
func Cacheable(req *dns.Msg) bool {
	if req.CheckingDisabled {
		return false
	}
	if o := req.IsEdns0(); o != nil && o.Do() {
		return false
	}
	return true
}
