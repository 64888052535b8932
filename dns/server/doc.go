// Package server is the dcnet-dns query handler and listeners: the cluster
// zones (spartan., thisnode.thisdcos.directory., l4lb.thisdcos.directory.,
// dcos.thisdcos.directory., and mesos. in Mesos-DNS mode) answered
// authoritatively from pluggable Zone sources, always fresh, and every
// other name sent to a Forwarder (in dcnet-dns: a cache in front of the
// forward package's Router).
//
// Authoritative answers: TTL 5; the apex answers SOA (mname ns.spartan.,
// negative TTL 5) and NS ns.spartan.; a name with records of other types
// only answers NOERROR with no answers (NODATA) and a name without records
// NXDOMAIN, both with the zone's SOA in the authority section. Empty
// non-terminals (a name that only has names below it) answer NXDOMAIN, as
// Mesos-DNS does. Classes other than IN and ANY are refused.
//
// EDNS0: a query's OPT is answered with the server's own (UDP size
// AdvertisedUDPSize); version other than 0 answers BADVERS. Over UDP the
// response is cut to the client's EDNS0 size, or 512 bytes without EDNS0
// (sizes below 512 count as 512), by dns.Msg.Truncate: it keeps the
// question, then as many answer, authority and additional records as fit,
// in that order, so additionals are dropped first and answers next, and it
// sets TC whenever a record was dropped. Over TCP the answer is complete.
//
// A forwarder's error becomes SERVFAIL with the question; without a
// forwarder other names are REFUSED.
//
// CNAMEs: a name holding a CNAME answers it for every question type; for
// types other than CNAME and ANY the handler then follows the target, as
// stub resolvers (glibc) expect of their server: through the local zones,
// and, for in-cluster targets (mesos., thisdcos.directory., spartan.), once
// through the Forwarder, whose answer carries the rest of the chain. At
// most maxCNAMEChase (8) names are followed, loops stop, and a target that
// cannot be resolved leaves the CNAMEs found so far with NOERROR.
package server
