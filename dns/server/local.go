package server

import (
	"encoding/binary"
	"sync"

	"github.com/miekg/dns"
)

// maxLocalAnswers bounds the packed local answers kept; when full the
// store starts over (a cluster's hot names come back in a query each).
const maxLocalAnswers = 1 << 16

// localAnswers keeps the packed answers of local names (positive answers
// of InlineZones) for the batch server's reader, as the cache keeps the
// forwarded ones: ID 0, RD and CD clear, no OPT, the question
// lower-cased. Each is valid while its zone's generation is the one it
// was computed at.
type localAnswers struct {
	mu sync.RWMutex
	m  map[string]localAnswer
}

type localAnswer struct {
	gen  uint64
	wire []byte
}

// inlineQuery is a plain query for a name of an inline zone.
type inlineQuery struct {
	wireQuery
	zone int    // index in FastPath.zones
	gen  uint64 // the zone's generation, read before any lookup
}

// Inline reports whether the request m is a plain query (as the fast path
// reads them) for a name whose zone (the longest apex holding it) is an
// InlineZone that is inline now: the Handler answers it from memory,
// without blocking, so the batch server may answer it in its reader.
// keyBuf has capacity maxKeyLen.
func (f *FastPath) Inline(m, keyBuf []byte) bool {
	_, ok := f.inline(m, keyBuf)
	return ok
}

// inline parses m and finds its inline zone.
func (f *FastPath) inline(m, keyBuf []byte) (inlineQuery, bool) {
	q, ok := parse(m, keyBuf[:0])
	if !ok {
		return inlineQuery{}, false
	}
	name := q.key[:len(q.key)-4]
	for off := 0; off < len(name); off += 1 + int(name[off]) {
		for i, a := range f.apexes {
			if len(a) == len(name)-off && string(a) == string(name[off:]) {
				iz, ok := f.zones[i].(InlineZone)
				if !ok || !iz.Inline() {
					return inlineQuery{}, false
				}
				return inlineQuery{wireQuery: q, zone: i, gen: iz.Generation()}, true
			}
		}
		if name[off] == 0 {
			break
		}
	}
	return inlineQuery{}, false
}

// localAnswer appends the kept answer to q (the request m) to dst,
// patched as the forwarded fast answers are; ok is false when there is
// none for the zone's generation of q or it does not fit the client's
// size (the Handler truncates).
func (f *FastPath) localAnswer(dst, m []byte, q inlineQuery) ([]byte, bool) {
	f.kept.mu.RLock()
	a, hit := f.kept.m[string(q.key)]
	f.kept.mu.RUnlock()
	if !hit || a.gen != q.gen {
		return dst, false
	}
	size := dns.MinMsgSize
	if q.opt {
		size = max(size, q.udpSize)
	}
	if len(a.wire)+optLen(q.opt) > size || len(a.wire) < q.nameEnd {
		return dst, false
	}
	n := len(dst)
	dst = append(dst, a.wire...)
	r := dst[n:]
	copy(r[0:2], m[0:2])
	r[2] |= m[2] & flagRD
	r[3] |= m[3] & flagCD
	copy(r[hdrLen:q.nameEnd], m[hdrLen:q.nameEnd])
	if q.opt {
		binary.BigEndian.PutUint16(r[10:], binary.BigEndian.Uint16(r[10:])+1)
		dst = append(dst, 0, 0, typeOPT, byte(AdvertisedUDPSize>>8), byte(AdvertisedUDPSize&0xff), 0, 0, 0, 0, 0, 0)
	}
	if f.localHit != nil {
		f.localHit(f.zones[q.zone].Name())
	}
	return dst, true
}

// keepLocal keeps resp, the Handler's answer to q, when it is a complete
// positive answer: NOERROR with answers, not truncated.
func (f *FastPath) keepLocal(q inlineQuery, resp *dns.Msg) {
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 || resp.Truncated || len(resp.Question) != 1 {
		return
	}
	c := &dns.Msg{MsgHdr: resp.MsgHdr, Compress: true, Question: []dns.Question{resp.Question[0]}, Answer: resp.Answer, Ns: resp.Ns}
	c.Id, c.RecursionDesired, c.CheckingDisabled = 0, false, false
	c.Question[0].Name = dns.CanonicalName(c.Question[0].Name)
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			c.Extra = append(c.Extra, rr)
		}
	}
	wire, err := c.Pack()
	if err != nil {
		return
	}
	f.kept.mu.Lock()
	if f.kept.m == nil || len(f.kept.m) >= maxLocalAnswers {
		f.kept.m = make(map[string]localAnswer, 1024)
	}
	f.kept.m[string(q.key)] = localAnswer{gen: q.gen, wire: wire}
	f.kept.mu.Unlock()
}
