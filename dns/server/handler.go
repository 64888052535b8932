package server

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// SOA and NS of every cluster zone.
const (
	// NSName is the name server named in SOA and NS records.
	NSName = "ns.spartan."
	// soaMbox is the SOA responsible mailbox.
	soaMbox    = "support.mesosphere.com."
	soaRefresh = 60
	soaRetry   = 180
	soaExpire  = 86400
	// soaMinTTL is the negative-caching TTL (RFC 2308) of cluster names,
	// kept at TTL so a new name is not hidden for longer than a record lives.
	soaMinTTL = TTL
)

// EDNS0 and transport sizes.
const (
	// AdvertisedUDPSize is the UDP payload size the server advertises in its
	// OPT record (the DNS flag day 2020 value).
	AdvertisedUDPSize = 1232
	// maxTCPSize is the largest DNS message over TCP.
	maxTCPSize = dns.MaxMsgSize
)

// DefaultForwardTimeout bounds one forwarded question when the Forwarder
// itself does not finish earlier.
const DefaultForwardTimeout = 12 * time.Second

// Forwarder answers questions outside the local zones (upstream resolvers,
// Mesos-DNS, configured zones). The returned response may be shared and
// must not be modified by the caller; an error means no upstream answered.
type Forwarder interface {
	Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error)
}

// Handler is the dcos-dns query handler: authoritative answers from its
// zones, everything else from the Forwarder. It implements dns.Handler.
type Handler struct {
	zones   []Zone
	forward Forwarder
	log     *slog.Logger
	// ForwardTimeout bounds one forwarded question; default
	// DefaultForwardTimeout.
	ForwardTimeout time.Duration
	// ClearTruncated sends UDP answers cut to the client's size without
	// the TC bit (Mesos-DNS's SetTruncateBit false, for clients that cannot
	// retry over TCP); by default TC is set.
	ClearTruncated bool
}

var _ dns.Handler = (*Handler)(nil)

// NewHandler returns a handler serving zones (the longest matching apex
// wins) and forwarding the rest to fwd; fwd nil refuses other names.
func NewHandler(log *slog.Logger, fwd Forwarder, zones ...Zone) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{zones: zones, forward: fwd, log: log, ForwardTimeout: DefaultForwardTimeout}
}

// ServeDNS answers one query.
func (h *Handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := h.answer(req, isTCP(w))
	if err := w.WriteMsg(resp); err != nil {
		h.log.Debug("write dns response", "client", w.RemoteAddr(), "err", err)
	}
}

// answer computes the response to req, sized for the transport.
func (h *Handler) answer(req *dns.Msg, tcp bool) *dns.Msg {
	reqOpt := req.IsEdns0()
	resp := h.resolve(req, reqOpt)
	resp.Id = req.Id
	resp.Response = true
	resp.Opcode = req.Opcode
	resp.RecursionDesired = req.RecursionDesired
	resp.CheckingDisabled = req.CheckingDisabled
	resp.Extra = stripOPT(resp.Extra)
	if reqOpt != nil {
		resp.Extra = append(resp.Extra, responseOPT(reqOpt))
	}
	size := maxTCPSize
	if !tcp {
		size = dns.MinMsgSize
		if reqOpt != nil && int(reqOpt.UDPSize()) > size {
			size = int(reqOpt.UDPSize())
		}
	}
	// Truncate keeps the question, then as many answers, authority and
	// additional records as fit, in that order (so additionals go first),
	// and sets TC when it dropped any.
	resp.Truncate(size)
	if h.ClearTruncated {
		resp.Truncated = false
	}
	return resp
}

// resolve answers req without regard to its transport size.
func (h *Handler) resolve(req *dns.Msg, opt *dns.OPT) *dns.Msg {
	resp := new(dns.Msg)
	switch {
	case req.Opcode != dns.OpcodeQuery:
		return resp.SetRcode(req, dns.RcodeNotImplemented)
	case len(req.Question) != 1:
		return resp.SetRcode(req, dns.RcodeFormatError)
	case opt != nil && opt.Version() != 0:
		resp.SetRcode(req, dns.RcodeBadVers)
		return resp
	}
	q := req.Question[0]
	name := strings.ToLower(dns.Fqdn(q.Name))
	if z := h.zoneFor(name); z != nil {
		if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
			return resp.SetRcode(req, dns.RcodeRefused)
		}
		resp := authoritative(req, z, name, q.Qtype)
		if q.Qtype != dns.TypeCNAME && q.Qtype != dns.TypeANY {
			h.chase(resp, q.Qtype)
		}
		return resp
	}
	return h.forwarded(req)
}

// maxCNAMEChase bounds how many CNAMEs one answer follows.
const maxCNAMEChase = 8

// clusterDomains are where a CNAME target counts as in-cluster: it is
// chased through the Forwarder when no local zone holds it.
var clusterDomains = []string{"mesos.", "thisdcos.directory.", SpartanZone}

// chase follows a CNAME at the end of resp's answer, as a resolver's
// stub clients expect: through the local zones, then (for in-cluster
// targets only) once through the Forwarder, whose answer carries the rest
// of the chain. It stops at maxCNAMEChase names, at a loop, at a name
// without records (the answer keeps the CNAMEs so far) and at a failed
// forward.
func (h *Handler) chase(resp *dns.Msg, qtype uint16) {
	seen := map[string]bool{}
	for _, q := range resp.Question {
		seen[strings.ToLower(dns.Fqdn(q.Name))] = true
	}
	for range maxCNAMEChase {
		if len(resp.Answer) == 0 {
			return
		}
		c, ok := resp.Answer[len(resp.Answer)-1].(*dns.CNAME)
		if !ok {
			return
		}
		target := strings.ToLower(dns.Fqdn(c.Target))
		if seen[target] {
			return
		}
		seen[target] = true
		if z := h.zoneFor(target); z != nil {
			rrs, _ := z.Lookup(target, qtype)
			resp.Answer = append(resp.Answer, rrs...)
			continue
		}
		if h.forward == nil || !inCluster(target) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.ForwardTimeout)
		up, err := h.forward.Forward(ctx, new(dns.Msg).SetQuestion(target, qtype))
		cancel()
		if err != nil || up == nil || up.Rcode != dns.RcodeSuccess {
			h.log.Debug("cname target not resolved", "target", target, "err", err)
			return
		}
		for _, rr := range up.Answer {
			resp.Answer = append(resp.Answer, dns.Copy(rr))
		}
		return
	}
}

// inCluster reports whether name is under one of the cluster domains.
func inCluster(name string) bool {
	for _, d := range clusterDomains {
		if dns.IsSubDomain(d, name) {
			return true
		}
	}
	return false
}

// zoneFor is the zone with the longest apex containing name.
func (h *Handler) zoneFor(name string) Zone {
	var best Zone
	for _, z := range h.zones {
		if dns.IsSubDomain(z.Name(), name) && (best == nil || len(z.Name()) > len(best.Name())) {
			best = z
		}
	}
	return best
}

// authoritative answers name in zone z: records, NODATA or NXDOMAIN, the
// latter two with the zone's SOA in the authority section.
func authoritative(req *dns.Msg, z Zone, name string, qtype uint16) *dns.Msg {
	a := authorityOf(z)
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = !a.NoRecursionAvailable
	apex := name == z.Name()
	var rrs []dns.RR
	exists := apex
	if apex && (qtype == dns.TypeSOA || qtype == dns.TypeNS || qtype == dns.TypeANY) {
		if qtype != dns.TypeNS {
			rrs = append(rrs, a.soa(z.Name()))
		}
		if qtype != dns.TypeSOA {
			rrs = append(rrs, a.ns(z.Name()))
		}
	}
	if !apex || qtype != dns.TypeSOA && qtype != dns.TypeNS {
		zrrs, ok := z.Lookup(name, qtype)
		rrs = append(rrs, zrrs...)
		exists = exists || ok
	}
	resp.Answer = rrs
	if len(rrs) == 0 {
		if !exists {
			resp.Rcode = dns.RcodeNameError
		}
		resp.Ns = []dns.RR{a.soa(z.Name())}
	}
	return resp
}

// SOA is the SOA record of the cluster zone apex.
func SOA(apex string) *dns.SOA { return Authority{}.withDefaults().soa(apex) }

// forwarded asks the Forwarder; SERVFAIL when it fails, REFUSED without one.
func (h *Handler) forwarded(req *dns.Msg) *dns.Msg {
	if h.forward == nil {
		return new(dns.Msg).SetRcode(req, dns.RcodeRefused)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.ForwardTimeout)
	defer cancel()
	up, err := h.forward.Forward(ctx, req)
	if err != nil || up == nil {
		h.log.Debug("forward failed", "name", req.Question[0].Name, "type", dns.TypeToString[req.Question[0].Qtype], "err", err)
		resp := new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		resp.RecursionAvailable = true
		return resp
	}
	resp := up.Copy()
	resp.Authoritative = false
	resp.RecursionAvailable = true
	resp.Question = req.Question
	return resp
}

// responseOPT is the server's OPT record answering the client's.
func responseOPT(req *dns.OPT) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(AdvertisedUDPSize)
	if req.Do() {
		o.SetDo() // RFC 3225: the response copies DO
	}
	if req.Version() != 0 {
		o.SetExtendedRcode(dns.RcodeBadVers)
	}
	return o
}

func stripOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

func isTCP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.TCPAddr)
	return ok
}
