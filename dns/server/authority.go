package server

import (
	"time"

	"github.com/miekg/dns"
)

// Authority is how a zone answers when it is not one of the cluster zones
// (TTL 5, SOA and NS ns.spartan., RA set): Mesos-DNS mode's zone answers
// with the TTL, SOA and flags of Mesos-DNS's config.json. The zero value
// is the cluster zones' defaults.
type Authority struct {
	// TTL of every record, the SOA's own and its negative TTL (Mesos-DNS
	// answers its TTL as the SOA's minimum, whatever SOAMinttl says); 0
	// means TTL.
	TTL uint32
	// Mname is the SOA's name server and the apex's NS; "" means NSName.
	Mname string
	// Rname is the SOA's mailbox; "" means the cluster zones' mailbox.
	Rname string
	// Refresh, Retry and Expire are the SOA's timers; 0 means the cluster
	// zones' values.
	Refresh, Retry, Expire uint32
	// SRVWeight is the weight of every SRV record (Mesos-DNS's
	// SRVRecordDefaultWeight); priority is 0.
	SRVWeight uint16
	// NoRecursionAvailable clears RA in the zone's answers (Mesos-DNS's
	// RecurseOn false).
	NoRecursionAvailable bool
}

// AuthorityZone is a Zone with an Authority of its own; other zones answer
// with the zero Authority.
type AuthorityZone interface {
	Zone
	// Authority returns the zone's settings; it must not change.
	Authority() Authority
}

// authorityOf returns z's Authority with its defaults filled in.
func authorityOf(z Zone) Authority {
	var a Authority
	if az, ok := z.(AuthorityZone); ok {
		a = az.Authority()
	}
	return a.withDefaults()
}

func (a Authority) withDefaults() Authority {
	if a.TTL == 0 {
		a.TTL = TTL
	}
	if a.Mname == "" {
		a.Mname = NSName
	}
	if a.Rname == "" {
		a.Rname = soaMbox
	}
	if a.Refresh == 0 {
		a.Refresh = soaRefresh
	}
	if a.Retry == 0 {
		a.Retry = soaRetry
	}
	if a.Expire == 0 {
		a.Expire = soaExpire
	}
	return a
}

// soa is the zone apex's SOA under a (with defaults filled in).
func (a Authority) soa(apex string) *dns.SOA {
	h := header(apex, dns.TypeSOA)
	h.Ttl = a.TTL
	// The negative TTL is the TTL (soaMinTTL for the cluster zones), as
	// Mesos-DNS answers.
	return &dns.SOA{Hdr: h, Ns: dns.Fqdn(a.Mname), Mbox: dns.Fqdn(a.Rname), Serial: uint32(time.Now().Unix()),
		Refresh: a.Refresh, Retry: a.Retry, Expire: a.Expire, Minttl: a.TTL}
}

// ns is the zone apex's NS under a.
func (a Authority) ns(apex string) *dns.NS {
	h := header(apex, dns.TypeNS)
	h.Ttl = a.TTL
	return &dns.NS{Hdr: h, Ns: dns.Fqdn(a.Mname)}
}
