package cache

import (
	"encoding/binary"
	"time"

	"github.com/miekg/dns"
)

// Wire layout (RFC 1035 section 4.1).
const (
	// headerLen is the size of the DNS header.
	headerLen = 12
	// maxRcode4 is the largest rcode the header alone can carry.
	maxRcode4 = 0x0f
	// ttlFieldAt is the TTL's offset after a record's name.
	ttlFieldAt = 4
)

// AppendPacked appends the cached answer to the question key (AppendKey)
// to dst, packed, with its TTLs decremented by the seconds the entry has
// spent in the cache, as Get would return it; ok is false on a miss, an
// expired entry (left to Get, which drops it) or an answer that could not
// be packed. The packed answer has ID 0, the QR and RA flags set, AA, TC,
// RD and CD clear, the rcode and AD of the upstream, the question in lower
// case, and no OPT record: the caller sets the ID, copies RD and CD and the
// question's case from the query and adds its OPT. Safe for concurrent use;
// it does not allocate beyond growing dst.
func (c *Cache) AppendPacked(dst, k []byte) (out []byte, ok bool) {
	now := c.cfg.Now()
	c.mu.Lock()
	el, hit := c.entries[string(k)]
	if !hit {
		c.mu.Unlock()
		return dst, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) || e.wire == nil {
		c.mu.Unlock()
		return dst, false
	}
	c.lru.MoveToFront(el)
	c.mu.Unlock()
	age := uint32(now.Sub(e.stored) / time.Second)
	n := len(dst)
	dst = append(dst, e.wire...)
	for _, off := range e.ttls {
		b := dst[n+int(off):]
		ttl := binary.BigEndian.Uint32(b)
		if ttl > age {
			ttl -= age
		} else {
			ttl = 0
		}
		binary.BigEndian.PutUint32(b, ttl)
	}
	return dst, true
}

// packWire packs resp for AppendPacked and finds its TTL fields; nil when
// resp cannot be sent that way (an extended rcode, which needs an OPT).
func packWire(resp *dns.Msg) (wire []byte, ttls []uint16) {
	if resp.Rcode > maxRcode4 || len(resp.Question) != 1 {
		return nil, nil
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, RecursionAvailable: true, Rcode: resp.Rcode,
		AuthenticatedData: resp.AuthenticatedData}, Compress: true}
	q := resp.Question[0]
	q.Name = dns.CanonicalName(q.Name)
	m.Question = []dns.Question{q}
	m.Answer, m.Ns = resp.Answer, resp.Ns
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			m.Extra = append(m.Extra, rr)
		}
	}
	wire, err := m.Pack()
	if err != nil || len(wire) > dns.MaxMsgSize {
		return nil, nil
	}
	ttls, ok := ttlOffsets(wire)
	if !ok {
		return nil, nil
	}
	return wire, ttls
}

// ttlOffsets walks a packed message and returns the offsets of the TTL
// fields of its records.
func ttlOffsets(wire []byte) ([]uint16, bool) {
	if len(wire) < headerLen {
		return nil, false
	}
	qd := int(binary.BigEndian.Uint16(wire[4:]))
	rrs := int(binary.BigEndian.Uint16(wire[6:])) + int(binary.BigEndian.Uint16(wire[8:])) + int(binary.BigEndian.Uint16(wire[10:]))
	off := headerLen
	for range qd {
		var ok bool
		if off, ok = skipName(wire, off); !ok || off+4 > len(wire) {
			return nil, false
		}
		off += 4
	}
	ttls := make([]uint16, 0, rrs)
	for range rrs {
		var ok bool
		if off, ok = skipName(wire, off); !ok || off+10 > len(wire) {
			return nil, false
		}
		ttls = append(ttls, uint16(off+ttlFieldAt))
		rdlen := int(binary.BigEndian.Uint16(wire[off+8:]))
		off += 10 + rdlen
		if off > len(wire) {
			return nil, false
		}
	}
	return ttls, off == len(wire)
}

// skipName returns the offset after the name at off.
func skipName(wire []byte, off int) (int, bool) {
	for off < len(wire) {
		l := int(wire[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xc0 == 0xc0:
			return off + 2, off+2 <= len(wire)
		case l&0xc0 != 0:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}
