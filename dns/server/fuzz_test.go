package server

import (
	"errors"
	"testing"

	"github.com/miekg/dns"
)

// FuzzHandler feeds arbitrary query bytes, as the server would after
// unpacking, to the handler: it must not panic, and must answer with the
// query's ID in a message that packs.
func FuzzHandler(f *testing.F) {
	for _, q := range []*dns.Msg{
		query("ready.spartan.", dns.TypeA),
		query("big.marathon.l4lb.thisdcos.directory.", dns.TypeA),
		query("leader.mesos.", dns.TypeSRV),
		query("example.com.", dns.TypeANY),
	} {
		q.SetEdns0(1232, true)
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	h := testHandler(f, &fakeForwarder{err: errors.New("offline")})
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return // the server answers unparseable queries itself
		}
		r := &recorder{tcp: tcp}
		h.ServeDNS(r, req)
		if r.msg == nil {
			t.Fatalf("no response (or one that does not pack) to %v", req)
		}
		if r.msg.Id != req.Id {
			t.Fatalf("response id %d, want %d", r.msg.Id, req.Id)
		}
	})
}
