package server

import (
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/records"
)

// TTL is the TTL, in seconds, of every cluster record.
const TTL = 5

// Cluster zone names, fully qualified.
const (
	// ThisNodeZone answers this node's IPs at its apex.
	ThisNodeZone = "thisnode.thisdcos.directory."
	// TaskZone holds the dcos-dns task names (records.TaskNames).
	TaskZone = records.TaskZone + "."
	// L4LBZone holds the named VIPs.
	L4LBZone = "l4lb.thisdcos.directory."
	// SpartanZone holds ready.spartan, the health probe, and ns.spartan.
	SpartanZone = "spartan."
	// MesosZone is the Mesos-DNS zone.
	MesosZone = records.DefaultDomain + "."
	// PublicThisNode answers this node's public IPs.
	PublicThisNode = "public." + ThisNodeZone
	// ZKZone holds zk-1.zk ... zk-5.zk, the masters' ZooKeepers.
	ZKZone = "zk."
	// LocalhostZone answers localhost.
	LocalhostZone = "localhost."
)

// zkRecords is how many zk-N.zk names the zk zone has.
const zkRecords = 5

// InlineZone is a Zone whose answers the UDP batch server may compute in
// its socket reader, without a goroutine of their own, and keep packed:
// its Lookup never blocks, Inline reports that it holds no CNAME (whose
// target the Handler may chase through a Forwarder) right now, and
// Generation changes whenever its records do (read before a lookup, an
// unchanged generation means the same answer).
type InlineZone interface {
	Zone
	Inline() bool
	Generation() uint64
}

// Zone is a source of authoritative records for one zone. Lookups must be
// cheap and safe for concurrent use; the handler does not cache them.
type Zone interface {
	// Name is the zone apex, fully qualified and lower-case ("mesos.").
	Name() string
	// Lookup returns the records of type qtype at name (fully qualified,
	// lower-case, inside the zone), with TTL set, and whether name has
	// records of any type, so the handler can tell NODATA from NXDOMAIN.
	// qtype dns.TypeANY asks for every record at name.
	Lookup(name string, qtype uint16) (rrs []dns.RR, exists bool)
}

// StaticZone is a zone holding a fixed set of records, replaced as a whole
// by Set; it suits the l4lb VIP names, thisnode and ready.spartan. A name
// holding a CNAME answers it for every question type.
type StaticZone struct {
	name  string
	rrs   atomic.Pointer[map[string][]dns.RR]
	cname atomic.Bool // the zone holds a CNAME
	gen   atomic.Uint64
}

var _ InlineZone = (*StaticZone)(nil)

// NewStaticZone returns a zone named name holding rrs.
func NewStaticZone(name string, rrs ...dns.RR) *StaticZone {
	z := &StaticZone{name: dns.CanonicalName(name)}
	z.Set(rrs)
	return z
}

// Name is the zone apex.
func (z *StaticZone) Name() string { return z.name }

// Set replaces the zone's records; owner names are canonicalised and
// records outside the zone are dropped. Safe to call concurrently with
// Lookup.
func (z *StaticZone) Set(rrs []dns.RR) {
	m := make(map[string][]dns.RR, len(rrs))
	cname := false
	for _, rr := range rrs {
		rr = dns.Copy(rr)
		h := rr.Header()
		h.Name = dns.CanonicalName(h.Name)
		if !dns.IsSubDomain(z.name, h.Name) {
			continue
		}
		cname = cname || h.Rrtype == dns.TypeCNAME
		m[h.Name] = append(m[h.Name], rr)
	}
	z.cname.Store(cname)
	z.rrs.Store(&m)
	z.gen.Add(1)
}

// Generation implements InlineZone.
func (z *StaticZone) Generation() uint64 { return z.gen.Load() }

// Inline implements InlineZone: a zone without CNAMEs.
func (z *StaticZone) Inline() bool { return !z.cname.Load() }

// Lookup implements Zone.
func (z *StaticZone) Lookup(name string, qtype uint16) ([]dns.RR, bool) {
	all, ok := (*z.rrs.Load())[name]
	if !ok {
		return nil, false
	}
	var out []dns.RR
	for _, rr := range all {
		t := rr.Header().Rrtype
		if t == qtype || qtype == dns.TypeANY || t == dns.TypeCNAME {
			out = append(out, rr)
		}
	}
	return out, true
}

// NewThisNode returns the thisnode.thisdcos.directory zone answering ips at
// its apex.
func NewThisNode(ips ...netip.Addr) *StaticZone { return NewThisNodePublic(ips, nil) }

// NewThisNodePublic returns the thisnode.thisdcos.directory zone answering
// ips at its apex and public at public.thisnode.thisdcos.directory, as
// dcos-net does.
func NewThisNodePublic(ips, public []netip.Addr) *StaticZone {
	var rrs []dns.RR
	for _, ip := range ips {
		rrs = append(rrs, AddrRR(ThisNodeZone, ip))
	}
	for _, ip := range public {
		rrs = append(rrs, AddrRR(PublicThisNode, ip))
	}
	return NewStaticZone(ThisNodeZone, rrs...)
}

// NewZK returns the zk. zone of dcos-dns: zk-1.zk ... zk-5.zk each an A (or
// AAAA) record of one master, the masters repeated in order when there are
// fewer than five (3 masters: zk-4 is the first, zk-5 the second), only
// the first five when there are more; no master, no records.
func NewZK(masters ...netip.Addr) *StaticZone {
	var rrs []dns.RR
	if len(masters) > 0 {
		for i := range zkRecords {
			rrs = append(rrs, AddrRR("zk-"+strconv.Itoa(i+1)+"."+ZKZone, masters[i%len(masters)]))
		}
	}
	return NewStaticZone(ZKZone, rrs...)
}

// NewLocalhost returns the localhost. zone: localhost. A 127.0.0.1, as
// dcos-dns answers it.
func NewLocalhost() *StaticZone {
	return NewStaticZone(LocalhostZone, AddrRR(LocalhostZone, netip.AddrFrom4([4]byte{127, 0, 0, 1})))
}

// NewSpartan returns the spartan. zone: ready.spartan -> 127.0.0.1, and
// ns.spartan -> the server's listen addresses.
func NewSpartan(listen ...netip.Addr) *StaticZone {
	rrs := []dns.RR{AddrRR("ready."+SpartanZone, netip.AddrFrom4([4]byte{127, 0, 0, 1}))}
	for _, ip := range listen {
		if ip.IsValid() && !ip.IsUnspecified() {
			rrs = append(rrs, AddrRR(NSName, ip))
		}
	}
	return NewStaticZone(SpartanZone, rrs...)
}

// AddrRR is an A or AAAA record (by ip's family) at name with TTL.
func AddrRR(name string, ip netip.Addr) dns.RR {
	ip = ip.Unmap()
	if ip.Is4() {
		return &dns.A{Hdr: header(name, dns.TypeA), A: ip.AsSlice()}
	}
	return &dns.AAAA{Hdr: header(name, dns.TypeAAAA), AAAA: ip.AsSlice()}
}

func header(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: dns.CanonicalName(name), Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

// RecordSetZone serves a records.RecordSet (Mesos-DNS records or task
// names), swapped whole by Set as the Mesos state changes.
type RecordSetZone struct {
	name string
	auth Authority
	rs   atomic.Pointer[records.RecordSet]
	gen  atomic.Uint64
}

var _ AuthorityZone = (*RecordSetZone)(nil)

// NewRecordSetZone returns a zone named name serving rs (nil: empty).
func NewRecordSetZone(name string, rs *records.RecordSet) *RecordSetZone {
	z := &RecordSetZone{name: dns.CanonicalName(name)}
	z.Set(rs)
	return z
}

// NewRecordSetZoneWith returns a zone named name answering with a (its
// TTL and SRV weight on every record); rs nil is empty.
func NewRecordSetZoneWith(name string, a Authority, rs *records.RecordSet) *RecordSetZone {
	z := NewRecordSetZone(name, rs)
	z.auth = a
	return z
}

// Name is the zone apex.
func (z *RecordSetZone) Name() string { return z.name }

// Authority implements AuthorityZone.
func (z *RecordSetZone) Authority() Authority { return z.auth }

// Inline implements InlineZone: a record set holds no CNAME.
func (z *RecordSetZone) Inline() bool { return true }

// Set replaces the records (nil: empty). Safe to call concurrently with
// Lookup; rs must not be modified afterwards.
func (z *RecordSetZone) Set(rs *records.RecordSet) {
	if rs == nil {
		rs = &records.RecordSet{}
	}
	z.rs.Store(rs)
	z.gen.Add(1)
}

// Generation implements InlineZone.
func (z *RecordSetZone) Generation() uint64 { return z.gen.Load() }

// Lookup implements Zone.
func (z *RecordSetZone) Lookup(name string, qtype uint16) ([]dns.RR, bool) {
	rs := z.rs.Load()
	types := []records.Type{records.Type(qtype)}
	if qtype == dns.TypeANY {
		types = []records.Type{records.TypeA, records.TypeAAAA, records.TypeSRV}
	}
	var out []dns.RR
	exists := false
	for _, t := range types {
		recs, ok := rs.Lookup(name, t)
		exists = exists || ok
		for _, r := range recs {
			out = append(out, z.recordRR(r))
		}
	}
	return out, exists
}

// recordRR converts a generated record to a resource record with the
// zone's TTL (and SRV weight).
func (z *RecordSetZone) recordRR(r records.Record) dns.RR {
	var rr dns.RR
	if r.Type == records.TypeSRV {
		rr = &dns.SRV{Hdr: header(r.Name, dns.TypeSRV), Target: strings.ToLower(r.SRV.Target), Port: r.SRV.Port, Weight: z.auth.SRVWeight}
	} else {
		rr = AddrRR(r.Name, r.Addr)
	}
	if z.auth.TTL != 0 {
		rr.Header().Ttl = z.auth.TTL
	}
	return rr
}

// RecordSet returns the records being served; the caller must not modify
// them. Safe to call concurrently with Set.
func (z *RecordSetZone) RecordSet() *records.RecordSet { return z.rs.Load() }
