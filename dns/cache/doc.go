// Package cache is a bounded cache of forwarded DNS answers, put in front
// of a forwarder (Wrap). Cluster zones are never cached: they are answered
// fresh by their zones.
//
// Keys are the question in wire form (AppendKey: the name with ASCII
// letters lower-cased, type, class), so a reader of raw queries builds them
// without unpacking. An entry lives for
// the smallest TTL of its answer and authority records, capped at MaxTTL;
// negative answers (NXDOMAIN, and NODATA: NOERROR without answers) live per
// RFC 2308 for the smaller of the SOA's TTL and its MINIMUM field, capped
// at MaxNegativeTTL, and are not cached without an SOA. SERVFAIL and other
// error answers, truncated answers and answers with a zero TTL are never
// cached. A hit returns a copy whose TTLs are decremented by the seconds
// the entry has spent in the cache.
//
// Every entry is also kept packed (AppendPacked), for the UDP fast path of
// package server: a hit then costs a copy of the bytes and a patch of the
// TTLs, instead of a copy of the message and packing it again.
//
// The cache holds at most Size entries and evicts the least recently used.
// Expired entries are dropped when they are looked up or evicted. One mutex
// guards the map and the LRU list; copies are made outside it.
package cache
