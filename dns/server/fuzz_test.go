package server

import (
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
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

// FuzzFastPath feeds arbitrary datagrams to the fast path, whose parser
// reads untrusted bytes off the socket before any unpacking: it must not
// panic, and whatever it answers must unpack as a response to the same ID.
func FuzzFastPath(f *testing.F) {
	c := cache.New(cache.Config{})
	up := &upstream{}
	h := testHandler(f, c.Wrap(up))
	fp := NewFastPath(h, c, nil)
	for _, name := range []string{"www.example.", "nx.example.", "big.example."} {
		q := query(name, dns.TypeA)
		h.ServeDNS(&recorder{}, q) // fill the cache
		b, _ := q.Pack()
		f.Add(b)
		q.SetEdns0(4096, false)
		b, _ = q.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, ok := fp.Answer(nil, b)
		if !ok {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("fast answer does not unpack: %v", err)
		}
		if len(b) >= 2 && m.Id != uint16(b[0])<<8|uint16(b[1]) || !m.Response {
			t.Fatalf("fast answer id %d response %t for query id %d", m.Id, m.Response, uint16(b[0])<<8|uint16(b[1]))
		}
	})
}
