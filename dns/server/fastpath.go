package server

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/miekg/dns"
)

// PackedCache is what the UDP fast path answers from: the cache of
// forwarded answers, packed (cache.Cache implements it).
type PackedCache interface {
	// AppendPacked appends the packed answer to the question key (a name
	// in lower-cased wire form, type, class) to dst; see cache.AppendPacked
	// for the header it carries.
	AppendPacked(dst, key []byte) ([]byte, bool)
}

// FastPath answers cached forwarded questions straight off the socket,
// inside the reader of a dns.Server: no goroutine, no unpacked message,
// no allocation but the socket's session. Everything else (local zones,
// misses, other opcodes, EDNS versions, answers that would be truncated)
// goes on to the Handler as before, and the answers are the same bytes
// the Handler would send (see the package documentation).
type FastPath struct {
	cache PackedCache
	// apexes are the local zones' apexes in lower-cased wire form: names
	// under them are the Handler's.
	apexes [][]byte
	// zones are the local zones, in the order of apexes.
	zones []Zone
	// local keeps the packed answers of inline zones' names.
	kept localAnswers
	// localHit, when set, is told the zone of every kept local answer
	// sent (SetLocalAnswered).
	localHit func(apex string)
	// answered, when set, is told the rcode of every fast answer.
	answered func(rcode int)
}

// NewFastPath returns a fast path answering from c for names outside
// every zone of h; answered (may be nil) is called for every answer it
// sends, with its rcode.
func NewFastPath(h *Handler, c PackedCache, answered func(rcode int)) *FastPath {
	f := &FastPath{cache: c, answered: answered}
	for _, z := range h.zones {
		var buf [256]byte
		n, err := dns.PackDomainName(z.Name(), buf[:], 0, nil, false)
		if err != nil {
			continue
		}
		f.apexes = append(f.apexes, lowerASCII(append([]byte(nil), buf[:n]...)))
		f.zones = append(f.zones, z)
	}
	return f
}

// SetLocalAnswered makes fn told the zone apex of every local answer the
// batch server sends from the kept packed answers, which the Handler
// (and its metrics) do not see. Call it before serving.
func (f *FastPath) SetLocalAnswered(fn func(apex string)) { f.localHit = fn }

// Wire constants (RFC 1035 section 4.1, RFC 6891).
const (
	hdrLen     = 12
	maxNameLen = 255
	flagRD     = 0x01 // first flag byte
	flagCD     = 0x10 // second flag byte
	typeOPT    = 41
	optRRLen   = 11 // root name, type, class, TTL, RDLENGTH
)

// wireQuery is the part of a request the fast path needs.
type wireQuery struct {
	nameEnd int    // offset after the question name
	key     []byte // lower-cased name, type, class
	opt     bool   // the request carries an OPT record (EDNS version 0)
	udpSize int    // its advertised payload size
}

// parse reads a plain query: one question, no answers or authority, at
// most an OPT record of EDNS version 0 as additional, nothing after.
// ok is false for anything else.
func parse(m []byte, keyBuf []byte) (q wireQuery, ok bool) {
	if len(m) < hdrLen || m[2]&0xf8 != 0 || // QR, opcode QUERY
		binary.BigEndian.Uint16(m[4:]) != 1 || binary.BigEndian.Uint16(m[6:]) != 0 || binary.BigEndian.Uint16(m[8:]) != 0 {
		return q, false
	}
	if m[3]&0x10 != 0 { // CD: not from the cache (cache.Cacheable)
		return q, false
	}
	ar := binary.BigEndian.Uint16(m[10:])
	if ar > 1 {
		return q, false
	}
	off := hdrLen
	key := keyBuf[:0]
	for {
		if off >= len(m) {
			return q, false
		}
		l := int(m[off])
		if l&0xc0 != 0 || off+1+l > len(m) || off+1+l-hdrLen > maxNameLen {
			return q, false
		}
		key = append(key, m[off:off+1+l]...)
		off += 1 + l
		if l == 0 {
			break
		}
	}
	q.nameEnd = off
	if off+4 > len(m) {
		return q, false
	}
	q.key = append(lowerASCII(key), m[off:off+4]...)
	off += 4
	if ar == 1 {
		if off+optRRLen > len(m) || m[off] != 0 || binary.BigEndian.Uint16(m[off+1:]) != typeOPT || m[off+6] != 0 {
			return q, false // not an OPT at the root, or EDNS version > 0
		}
		if m[off+7]&0x80 != 0 { // DO: not from the cache (cache.Cacheable)
			return q, false
		}
		q.opt, q.udpSize = true, int(binary.BigEndian.Uint16(m[off+3:]))
		off += optRRLen + int(binary.BigEndian.Uint16(m[off+9:]))
	}
	return q, off == len(m)
}

// local reports whether name (lower-cased wire form, with its root label)
// is at or under a local zone's apex.
func (f *FastPath) local(name []byte) bool {
	for off := 0; off < len(name); off += 1 + int(name[off]) {
		for _, a := range f.apexes {
			if len(a) == len(name)-off && string(a) == string(name[off:]) {
				return true
			}
		}
		if name[off] == 0 {
			break
		}
	}
	return false
}

// Answer appends the fast answer to the request m to dst; ok is false
// when the Handler must answer instead.
func (f *FastPath) Answer(dst, m []byte) (resp []byte, ok bool) {
	return f.answer(dst, m, make([]byte, 0, maxKeyLen))
}

// maxKeyLen bounds a question key: a name, type and class.
const maxKeyLen = maxNameLen + 4

// answer is Answer with keyBuf, of capacity maxKeyLen, for the key.
func (f *FastPath) answer(dst, m, keyBuf []byte) (resp []byte, ok bool) {
	q, ok := parse(m, keyBuf[:0])
	if !ok || f.local(q.key[:len(q.key)-4]) {
		return dst, false
	}
	n := len(dst)
	dst, ok = f.cache.AppendPacked(dst, q.key)
	if !ok {
		return dst[:n], false
	}
	size := dns.MinMsgSize
	if q.opt {
		size = max(size, q.udpSize)
	}
	r := dst[n:]
	if len(r)+optLen(q.opt) > size || len(r) < q.nameEnd {
		return dst[:n], false // the Handler truncates
	}
	copy(r[0:2], m[0:2])
	r[2] |= m[2] & flagRD
	r[3] |= m[3] & flagCD
	copy(r[hdrLen:q.nameEnd], m[hdrLen:q.nameEnd]) // the question as asked
	if q.opt {
		binary.BigEndian.PutUint16(r[10:], binary.BigEndian.Uint16(r[10:])+1)
		dst = append(dst, 0, 0, typeOPT, byte(AdvertisedUDPSize>>8), byte(AdvertisedUDPSize&0xff), 0, 0, 0, 0, 0, 0)
	}
	if f.answered != nil {
		f.answered(int(r[3] & 0x0f))
	}
	return dst, true
}

func optLen(opt bool) int {
	if opt {
		return optRRLen
	}
	return 0
}

// lowerASCII lower-cases ASCII letters in place.
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// Reader returns a dns.DecorateReader for a dns.Server: its ReadUDP
// answers fast questions itself and returns only the others.
func (f *FastPath) Reader(next dns.Reader) dns.Reader { return &fastReader{f: f, next: next} }

// fastReader is one server's reader; a dns.Server calls ReadUDP from one
// goroutine, so its buffers need no lock.
type fastReader struct {
	f    *FastPath
	next dns.Reader
	in   []byte // allocated by the first ReadUDP (TCP readers need none)
	out  []byte
	key  []byte
}

// ReadUDP implements dns.Reader.
func (r *fastReader) ReadUDP(conn *net.UDPConn, timeout time.Duration) ([]byte, *dns.SessionUDP, error) {
	if r.in == nil {
		r.in, r.key = make([]byte, dns.MaxMsgSize), make([]byte, 0, maxKeyLen)
	}
	for {
		if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return nil, nil, err
		}
		n, s, err := dns.ReadFromSessionUDP(conn, r.in[:])
		if err != nil {
			return nil, nil, err
		}
		m := r.in[:n]
		resp, ok := r.f.answer(r.out[:0], m, r.key)
		r.out = resp[:0]
		if !ok {
			return append([]byte(nil), m...), s, nil
		}
		if _, err := dns.WriteToSessionUDP(conn, resp, s); err != nil {
			continue // the client is gone; as the Handler, ignore it
		}
	}
}

// ReadTCP implements dns.Reader.
func (r *fastReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	return r.next.ReadTCP(conn, timeout)
}
