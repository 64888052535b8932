package server

import (
	"slices"

	"github.com/miekg/dns"
)

// Lister is a Zone that can enumerate its records, for the HTTP API's
// /v1/records and /v1/hosts.
type Lister interface {
	Zone
	// Records returns every record of the zone (not SOA and NS), sorted by
	// name then type. Safe to call concurrently with Lookup.
	Records() []dns.RR
}

var (
	_ Lister = (*StaticZone)(nil)
	_ Lister = (*RecordSetZone)(nil)
)

// Records implements Lister.
func (z *StaticZone) Records() []dns.RR {
	m := *z.rrs.Load()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []dns.RR
	for _, n := range names {
		out = append(out, m[n]...)
	}
	return out
}

// Records implements Lister.
func (z *RecordSetZone) Records() []dns.RR {
	rs := z.rs.Load()
	var out []dns.RR
	for _, n := range rs.Names() {
		rrs, _ := z.Lookup(n, dns.TypeANY)
		out = append(out, rrs...)
	}
	return out
}
