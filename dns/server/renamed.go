package server

import (
	"strings"

	"github.com/miekg/dns"
)

// RenamedZone serves the records of a RecordSetZone under another apex,
// without a copy: "leader.mesos.thisdcos.directory." answers what
// "leader.mesos." holds, owner names and SRV targets renamed. A node that
// polls the Mesos state itself serves mesos.thisdcos.directory so.
type RenamedZone struct {
	name  string
	inner *RecordSetZone
}

var (
	_ InlineZone = (*RenamedZone)(nil)
	_ Lister     = (*RenamedZone)(nil)
)

// NewRenamedZone returns the zone name serving inner's records.
func NewRenamedZone(name string, inner *RecordSetZone) *RenamedZone {
	return &RenamedZone{name: dns.CanonicalName(name), inner: inner}
}

// Name is the zone apex.
func (z *RenamedZone) Name() string { return z.name }

// Inline implements InlineZone.
func (z *RenamedZone) Inline() bool { return true }

// Generation implements InlineZone: the inner zone's.
func (z *RenamedZone) Generation() uint64 { return z.inner.Generation() }

// Lookup implements Zone.
func (z *RenamedZone) Lookup(name string, qtype uint16) ([]dns.RR, bool) {
	if name == z.name {
		return nil, false
	}
	rel, ok := strings.CutSuffix(name, "."+z.name)
	if !ok {
		return nil, false
	}
	rrs, exists := z.inner.Lookup(rel+"."+z.inner.Name(), qtype)
	for i, rr := range rrs {
		rrs[i] = z.rename(rr)
	}
	return rrs, exists
}

// rename moves rr (a fresh copy the inner zone made) under the apex.
func (z *RenamedZone) rename(rr dns.RR) dns.RR {
	h := rr.Header()
	h.Name = z.out(h.Name)
	if srv, ok := rr.(*dns.SRV); ok {
		srv.Target = z.out(srv.Target)
	}
	return rr
}

// out is name moved from the inner apex to z's (unchanged when outside).
func (z *RenamedZone) out(name string) string {
	if rel, ok := strings.CutSuffix(name, "."+z.inner.Name()); ok {
		return rel + "." + z.name
	}
	return name
}

// Records implements Lister.
func (z *RenamedZone) Records() []dns.RR {
	rrs := z.inner.Records()
	for i, rr := range rrs {
		rrs[i] = z.rename(rr)
	}
	return rrs
}
