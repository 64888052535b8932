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
//
// # Serving UDP: batches and the fast path
//
// RunWith binds Options.Sockets sockets per address with SO_REUSEPORT. A
// UDP socket bound to a specific address is served by a batchServer: one
// recvmmsg reads up to batchSize queries, one sendmmsg sends the answers
// that were ready at once; a socket bound to 0.0.0.0 or :: needs each
// query's destination address (IP_PKTINFO) to answer from it and stays
// with dns.Server, whose reader the fast path decorates instead.
//
// The fast path (FastPath) answers a cached forwarded question without the
// Handler: the cache keeps every answer also packed, with ID 0, QR and RA
// set, the question lower-cased and no OPT. A plain query (one question,
// no answer or authority records, at most an OPT of EDNS version 0, no
// trailing bytes) whose name is under no local zone and whose key (the
// lower-cased wire name, type and class) hits is answered by copying the
// packed bytes and patching the ID, RD and CD from the query, the question
// bytes as asked (same length, as the key matched), the TTLs (decremented
// by the entry's age) and, when the query had one, appending the server's
// OPT. A packed answer larger than the client's UDP size, an expired entry
// and anything else go to the Handler, which answers them as before
// (truncation, BADVERS, SERVFAIL...), so the fast path never changes an
// answer, only how it is made; TestFastPathSameAnswer holds it to the
// Handler's.
package server
