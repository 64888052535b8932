package server

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// RecursionGate serves a listener on which forwarding (recursion) is not
// offered to everyone: questions inside the Handler's local zones are
// answered for every client, other names only for clients whose address
// is in Nets; the rest get REFUSED and are counted by Refused. dcnet-dns
// puts it on the node's own addresses (its underlay address, a wildcard),
// so it is never an open resolver there.
type RecursionGate struct {
	// Handler is what answers: its zones decide what is local.
	Handler *Handler
	// Next serves what the gate lets through (Handler, possibly wrapped
	// by metrics); nil means Handler.
	Next dns.Handler
	// Nets are the client networks that get recursion anyway.
	Nets []netip.Prefix
	// Refused, when set, is called for every question refused.
	Refused func()
}

var _ dns.Handler = (*RecursionGate)(nil)

// ServeDNS implements dns.Handler.
func (g *RecursionGate) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	next := g.Next
	if next == nil {
		next = g.Handler
	}
	if len(req.Question) != 1 || g.Handler.IsLocal(req.Question[0].Name) || g.Allowed(w.RemoteAddr()) {
		next.ServeDNS(w, req)
		return
	}
	if g.Refused != nil {
		g.Refused()
	}
	resp := new(dns.Msg).SetRcode(req, dns.RcodeRefused)
	if opt := req.IsEdns0(); opt != nil {
		resp.Extra = append(resp.Extra, responseOPT(opt))
	}
	_ = w.WriteMsg(resp)
}

// Allowed reports whether the client at addr is in Nets.
func (g *RecursionGate) Allowed(addr net.Addr) bool {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		return false
	}
	ip = ip.Unmap()
	for _, n := range g.Nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// IsLocal reports whether name (any case, trailing dot optional) is inside
// one of the handler's zones.
func (h *Handler) IsLocal(name string) bool {
	return h.zoneFor(strings.ToLower(dns.Fqdn(name))) != nil
}
