// Package vipzone serves the l4lb.thisdcos.directory zone from the named
// VIP records dcnet-l4lb publishes in etcd.
//
// dcnet-l4lb writes /dcnet/v1/vipnames/<dns name> = {"name":...,"addrs":[...]}
// only after a sync that programmed the VIP succeeded, so a name served
// here always has at least one node answering on its addresses.
//
// # Freshness
//
// The zone is a server.AddrZone fed key by key from a prefix mirror
// (cluster.Mirror): a full read, then the watch's events applied as they
// come, each costing in proportion to the names it touches (not to the
// whole zone, which matters with tens of thousands of VIP names). A query
// never reads a stale copy for longer than the watch delay and never pays
// for an update itself. There is no cache in front of it; the records
// carry server.TTL.
//
// Malformed values and addresses are skipped and logged (Decode), so one
// bad record cannot hide the others.
package vipzone
