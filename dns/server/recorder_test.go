package server

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// recorder is a dns.ResponseWriter capturing the response, packed and
// unpacked again as a client would see it.
type recorder struct {
	tcp  bool
	msg  *dns.Msg
	wire int
}

var _ dns.ResponseWriter = (*recorder)(nil)

func (r *recorder) LocalAddr() net.Addr {
	if r.tcp {
		return &net.TCPAddr{IP: net.IPv4(198, 51, 100, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(198, 51, 100, 1), Port: 53}
}

func (r *recorder) RemoteAddr() net.Addr {
	if r.tcp {
		return &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 40000}
	}
	return &net.UDPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 40000}
}

func (r *recorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = r.Write(b)
	return err
}

func (r *recorder) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	r.msg, r.wire = m, len(b)
	return len(b), nil
}

func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

// serve sends req to h over UDP (tcp false) or TCP and returns the response.
func serve(t *testing.T, h dns.Handler, req *dns.Msg, tcp bool) (*dns.Msg, int) {
	t.Helper()
	r := &recorder{tcp: tcp}
	h.ServeDNS(r, req)
	if r.msg == nil {
		t.Fatalf("no response to %v", req.Question)
	}
	if r.msg.Id != req.Id {
		t.Fatalf("response id %d, want %d", r.msg.Id, req.Id)
	}
	return r.msg, r.wire
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}
