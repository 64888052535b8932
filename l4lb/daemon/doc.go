// Package daemon is dcnet-l4lb's node daemon: it mirrors the cluster's
// endpoint records and liveness keys from etcd, turns endpoint labels into
// VIPs (package vip), allocates named VIP addresses, programs the node's
// nftables through package dataplane and serves /v1/vips.
//
// # Loop
//
// Every change of a watched prefix kicks one sync, debounced by
// debounceDelay so a burst of records costs one batch; a slow timer
// (Options.SyncInterval) syncs too, and since dataplane.Sync reads the
// kernel back every time, the timer repairs hand damage (a deleted table
// or element). A sync computes the wanted services in pure code (Desired),
// allocates any missing named VIP address, plans (dataplane.Build) and
// applies (dataplane.Sync).
//
// # Liveness
//
// A backend whose node has no key under cluster.AlivePrefix is dropped,
// unless every backend of the VIP is on such a node: then all are kept
// (fail open), as a store partition must not empty every VIP.
//
// # Named VIP addresses
//
// A named VIP gets one address per family (from 11.0.0.0/8 and
// fd01:c::/64), shared by all its ports and protocols. Keys:
//
//	/dcnet/v1/vips/name/<ip|ip6>/<dns name>  = address
//	/dcnet/v1/vips/addr/<address>            = <ip|ip6>/<dns name>
//
// Both are created in one transaction guarded by "neither key exists", so
// two nodes racing for a name or an address agree on one winner; the loser
// reads the winner's address. The address is never changed while its key
// exists. Addresses are not released yet (no garbage collection).
//
// # Names for DNS
//
// After a sync that programmed a named VIP succeeds, the node writes
// /dcnet/v1/vipnames/<dns name> = {"name":...,"addrs":[...]} (only when the
// stored value differs). A name therefore never appears before at least one
// node answers on its address. Records are not deleted yet.
package daemon
