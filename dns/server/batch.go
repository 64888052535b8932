package server

import (
	"encoding/binary"
	"errors"
	"net"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Batches of the UDP batch server.
const (
	// batchSize is the most datagrams one recvmmsg or sendmmsg moves.
	batchSize = 32
	// batchReadSize bounds a query read by the batch server; a larger one
	// is dropped (miekg/dns reads 512 bytes by default).
	batchReadSize = 4096
)

// batchConn reads and writes datagrams in batches (recvmmsg, sendmmsg):
// an ipv4.PacketConn or an ipv6.PacketConn.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

var (
	_ batchConn = (*ipv4.PacketConn)(nil)
	_ batchConn = (*ipv6.PacketConn)(nil)
)

// batchServer serves DNS over one UDP socket bound to a specific address:
// it reads queries in batches, answers those the FastPath can at once and
// those for local zones the Handler answers from memory (FastPath.Inline)
// through the Handler in the reader, and sends those answers in one
// batch; every other query (forwarded names the cache misses) goes to the
// Handler in a goroutine of its own, as a dns.Server would. Under load one
// recvmmsg and one sendmmsg carry up to batchSize queries and answers,
// where a dns.Server makes two system calls and starts a goroutine for
// each. A socket bound to an unspecified address (0.0.0.0, ::) needs the
// destination of every query to answer from it; it is left to dns.Server.
type batchServer struct {
	conn  *net.UDPConn
	batch batchConn
	h     dns.Handler
	fast  *FastPath
	// allow, when set, limits the fast path to the clients it allows.
	allow func(net.Addr) bool
}

func newBatchServer(conn *net.UDPConn, h dns.Handler, fast *FastPath) *batchServer {
	s := &batchServer{conn: conn, h: h, fast: fast}
	six := false
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		six = true
	}
	if raw, err := newRawBatch(conn, six); err == nil {
		s.batch = raw
	} else if six {
		s.batch = ipv6.NewPacketConn(conn)
	} else {
		s.batch = ipv4.NewPacketConn(conn)
	}
	return s
}

// Serve answers queries until the socket is closed (Close); it returns
// nil then, else the read error.
func (s *batchServer) Serve() error {
	var (
		in      [batchSize]ipv4.Message
		out     [batchSize]ipv4.Message
		outBufs [batchSize][1][]byte
		key     = make([]byte, 0, maxKeyLen)
		resp    = make([]byte, 0, batchSize*dns.MinMsgSize)
	)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, batchReadSize)}
	}
	for {
		n, err := s.batch.ReadBatch(in[:], 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				// Transient: one lost batch, as dns.Server would shrug it
				// off; stopping here would take every listener down.
				time.Sleep(time.Millisecond)
				continue
			}
			return err
		}
		resp = resp[:0]
		k := 0
		for i := range n {
			m := &in[i]
			if m.Flags&unix.MSG_TRUNC != 0 || m.N < hdrLen || m.Addr == nil {
				continue
			}
			q := m.Buffers[0][:m.N]
			start := len(resp)
			var ok bool
			if s.fast != nil && (s.allow == nil || s.allow(m.Addr)) {
				resp, ok = s.fast.answer(resp, q, key)
			}
			if !ok && s.fast != nil {
				if iq, in := s.fast.inline(q, key); in {
					if resp, ok = s.fast.localAnswer(resp, q, iq); !ok {
						resp, ok = s.serveInline(resp, q, m.Addr, iq)
					}
				}
			}
			if !ok {
				go s.serveSlow(append([]byte(nil), q...), m.Addr)
				continue
			}
			outBufs[k][0] = resp[start:len(resp):len(resp)]
			out[k] = ipv4.Message{Buffers: outBufs[k][:], Addr: m.Addr}
			k++
		}
		for sent := 0; sent < k; {
			w, err := s.batch.WriteBatch(out[sent:k], 0)
			if err != nil {
				w = max(w, 1) // skip the datagram that failed; as the Handler, ignore it
			}
			sent += w
		}
	}
}

// serveInline answers the plain query q through the Handler in the
// reader, appending the packed answer to dst; ok is false when it wrote
// none (dst unchanged).
func (s *batchServer) serveInline(dst, q []byte, addr net.Addr, iq inlineQuery) ([]byte, bool) {
	req := new(dns.Msg)
	if err := req.Unpack(q); err != nil {
		return dst, false
	}
	w := &inlineWriter{conn: s.conn, remote: addr, buf: dst}
	s.h.ServeDNS(w, req)
	if !w.wrote {
		return dst, false
	}
	if w.msg != nil {
		s.fast.keepLocal(iq, w.msg)
	}
	return w.buf, true
}

// inlineWriter is the dns.ResponseWriter of a query answered in the
// reader: it appends the packed answer to buf, for the batch.
type inlineWriter struct {
	conn   *net.UDPConn
	remote net.Addr
	buf    []byte
	wrote  bool
	msg    *dns.Msg // the answer written, to keep
}

var _ dns.ResponseWriter = (*inlineWriter)(nil)

func (w *inlineWriter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *inlineWriter) RemoteAddr() net.Addr { return w.remote }

func (w *inlineWriter) WriteMsg(m *dns.Msg) error {
	if w.wrote {
		return errors.New("inline writer: one answer per query")
	}
	n := len(w.buf)
	b, err := m.PackBuffer(w.buf[n:cap(w.buf)])
	if err != nil {
		return err
	}
	w.buf = append(w.buf, b...) // in place when it fitted
	w.wrote, w.msg = true, m
	return nil
}

func (w *inlineWriter) Write(b []byte) (int, error) {
	if w.wrote {
		return 0, errors.New("inline writer: one answer per query")
	}
	w.buf, w.wrote = append(w.buf, b...), true
	return len(b), nil
}
func (w *inlineWriter) Close() error        { return nil }
func (w *inlineWriter) TsigStatus() error   { return nil }
func (w *inlineWriter) TsigTimersOnly(bool) {}
func (w *inlineWriter) Hijack()             {}

// Close stops Serve.
func (s *batchServer) Close() error { return s.conn.Close() }

// serveSlow answers one query through the Handler, accepting and
// rejecting queries as dns.Server does (dns.DefaultMsgAcceptFunc).
func (s *batchServer) serveSlow(m []byte, addr net.Addr) {
	w := &udpWriter{conn: s.conn, remote: addr}
	dh := dns.Header{Id: binary.BigEndian.Uint16(m), Bits: binary.BigEndian.Uint16(m[2:]),
		Qdcount: binary.BigEndian.Uint16(m[4:]), Ancount: binary.BigEndian.Uint16(m[6:]),
		Nscount: binary.BigEndian.Uint16(m[8:]), Arcount: binary.BigEndian.Uint16(m[10:])}
	action := dns.DefaultMsgAcceptFunc(dh)
	if action == dns.MsgIgnore {
		return
	}
	if action == dns.MsgAccept {
		req := new(dns.Msg)
		if err := req.Unpack(m); err == nil {
			s.h.ServeDNS(w, req)
			return
		}
		action = dns.MsgReject
	}
	resp := &dns.Msg{MsgHdr: dns.MsgHdr{Id: dh.Id, Response: true, Opcode: int(dh.Bits>>11) & 0xf, Rcode: dns.RcodeFormatError}}
	if action == dns.MsgRejectNotImplemented {
		resp.Rcode = dns.RcodeNotImplemented
	}
	w.WriteMsg(resp)
}

// udpWriter is the dns.ResponseWriter of one query of a batchServer.
type udpWriter struct {
	conn   *net.UDPConn
	remote net.Addr
}

var _ dns.ResponseWriter = (*udpWriter)(nil)

func (w *udpWriter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *udpWriter) RemoteAddr() net.Addr { return w.remote }

func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (w *udpWriter) Write(b []byte) (int, error) { return w.conn.WriteTo(b, w.remote) }
func (w *udpWriter) Close() error                { return nil }
func (w *udpWriter) TsigStatus() error           { return nil }
func (w *udpWriter) TsigTimersOnly(bool)         {}
func (w *udpWriter) Hijack()                     {}
