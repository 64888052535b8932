// Package dnstest asks a dns.Handler questions without sockets, for the
// tests of the packages that wire dcnet-dns's handlers (DNS handlers are
// tested with a recorder, not sockets), and checks the errors of their
// configurations' Validate.
package dnstest

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Recorder is a dns.ResponseWriter keeping the response, as if it came
// over UDP from 127.0.0.1:5353 to 127.0.0.1:53.
type Recorder struct {
	// Msg is the response written, nil until then.
	Msg *dns.Msg
}

var _ dns.ResponseWriter = (*Recorder)(nil)

// LocalAddr is the server's address, 127.0.0.1:53.
func (r *Recorder) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }

// RemoteAddr is the client's address, 127.0.0.1:5353.
func (r *Recorder) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
}

// WriteMsg keeps m.
func (r *Recorder) WriteMsg(m *dns.Msg) error { r.Msg = m; return nil }

// Write drops raw bytes (handlers write messages).
func (r *Recorder) Write([]byte) (int, error) { return 0, nil }

// Close does nothing.
func (r *Recorder) Close() error { return nil }

// TsigStatus reports no TSIG error.
func (r *Recorder) TsigStatus() error { return nil }

// TsigTimersOnly does nothing.
func (r *Recorder) TsigTimersOnly(bool) {}

// Hijack does nothing.
func (r *Recorder) Hijack() {}

// Ask sends h the question (name, qtype) and returns its response; the
// test fails when h writes none.
func Ask(t testing.TB, h dns.Handler, name string, qtype uint16) *dns.Msg {
	t.Helper()
	req := new(dns.Msg).SetQuestion(name, qtype)
	w := &Recorder{}
	h.ServeDNS(w, req)
	if w.Msg == nil {
		t.Fatalf("no answer to %s", name)
	}
	return w.Msg
}

// WantErr fails t unless err matches want: nil when want is "", else an
// error whose text contains want (for the table tests of Validate).
func WantErr(t testing.TB, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("error %v, want none", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("error %v, want one containing %q", err, want)
	}
}
