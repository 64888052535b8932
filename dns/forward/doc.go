// Package forward sends DNS questions that dcnet-dns does not answer itself
// to other servers: Group races a set of upstream resolvers, Router picks a
// Group by zone (the longest configured zone containing the name, e.g.
// "mesos." for the Mesos-DNS servers on the masters), else the default
// upstreams.
//
// Racing: a question goes to every upstream of the group when it has one or
// two, and to the two with the lowest failure score when it has three or
// more (ties broken by configuration order). The first good answer (any
// well-formed response other than SERVFAIL, REFUSED or NOTIMP) wins and
// the other queries are cancelled. When every raced upstream fails and the
// group has others, they are raced once more, so with three or more
// upstreams the worst case before SERVFAIL is two timeouts.
//
// Failure score: each failed query (error, timeout, SERVFAIL, REFUSED,
// NOTIMP) adds 1 to the upstream's score, which decays exponentially with a
// half-life of DefaultHalfLife (30 s): a score s recorded at time t is worth
// s*2^-((now-t)/halfLife) at now. A dead upstream therefore drops out of the
// race at once and is tried again once a live one has failed as often in
// the recent past, or its score has decayed below the others'. dcos-dns's
// score never decayed, so an upstream that failed once was avoided forever.
//
// Each upstream query has its own timeout (DefaultTimeout, 5 s). Queries
// go over UDP with an EDNS0 buffer of UDPSize; a truncated answer is asked
// again over TCP so the cache and the client see the complete answer.
//
// A Group never forwards to the server's own listen addresses (Self), so a
// resolv.conf pointing at dcnet-dns itself cannot loop.
package forward
