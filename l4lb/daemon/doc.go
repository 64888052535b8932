// Package daemon is dcnet-l4lb's node daemon: it mirrors the cluster's
// endpoint records, Mesos backend records and liveness keys from etcd,
// turns endpoint labels and Mesos tasks into VIPs (packages vip, mesos),
// allocates named VIP addresses (package vipaddr), programs the node's
// nftables through package dataplane and its VIP routes through package
// vroute, publishes the names of programmed VIPs and the revision it
// programmed, releases unused ones, and serves /v1/vips (dcos-net's
// shape), /v1/dcnet/vips, /v1/programmed/<ip> and /metrics.
//
// # Loop
//
// Every change of a watched prefix kicks one sync, debounced by
// debounceDelay so a burst of records costs one batch. A sync computes the
// wanted services in pure code (Desired), allocates any missing named VIP
// address, plans (dataplane.Build) and applies the plan with a
// dataplane.Syncer: Apply diffs it against what the Syncer last applied,
// without reading the kernel back. A slow timer (Options.SyncInterval)
// also runs Reconcile, which reads the tables back and repairs hand damage
// (a deleted table or element); what it changes is counted in
// dcnet_l4lb_reconcile_repairs_total.
//
// # Decoded records and plan reuse
//
// The endpoint and Mesos backend prefixes are mirrored by a recordCache,
// not a cluster.Cache: each record is decoded (JSON to VIP bindings) once
// per etcd ModRevision, when the watch delivers it, and only its bindings
// are kept, not its JSON. The initial read, and the resync after a broken
// or compacted watch, read recordPage keys at a time at one revision and
// keep the bindings of records whose ModRevision is unchanged. A sync
// merges the kept bindings (Desired) without copying them into one list.
// Every cache change sets a dirty flag; a sync with the flag clear (the
// periodic tick with nothing new) reuses the last computed services and
// plan, so it costs the Reconcile read-back alone. With 30,000 endpoint
// records, decoding every record on every sync and holding the JSON and a
// single 30,000-key read answer made most of the daemon's heap.
//
// # Programmed addresses
//
// After each successful sync the daemon keeps the set of VIP addresses of
// the plan applied (both families); /v1/programmed/<ip> is one lookup in
// it under a read lock. dcnet-dns asks it so that it does not answer a VIP
// name on a node before that node has programmed the VIP.
//
// # Liveness
//
// A backend whose node has no key under cluster.AlivePrefix is dropped,
// unless every backend of the VIP is on such a node: then all are kept
// (fail open), as a store partition must not empty every VIP.
//
// # Sources of backends
//
// Endpoint records (overlayd, CNI and Docker containers) give healthy
// backends. With Options.Mesos.Agent set, the daemon also polls its node's
// Mesos agent (Operator API, POST /api/v1 {"type":"GET_STATE"}) every
// AgentOptions.Poll, backing off from agentRetryMin to
// max(Poll, agentRetryMax) while the agent fails; an unreachable agent
// leaves the last answer read in force. A node-local agent knows only its
// node's tasks, so the daemon publishes them for every node:
//
//	/dcnet/v1/mesos-backends/<node>/<url-escaped task id> = cluster.MesosBackends
//
// written by a cluster.Publisher under the lease of the node's liveness
// key (overlayd's): the records go when the node goes, and are rewritten
// when overlayd gets a new lease. Nothing is published before the agent
// first answers, so a restarting daemon does not blink its node's records
// out. Every daemon reads every node's records; a backend's node is the
// publishing node (not the Mesos agent ID), so liveness applies to it.
//
// Unhealthy (Healthy=false) and terminating (TASK_KILLING, Draining=true)
// tasks stay backends without slots: no new connections, existing ones
// kept by conntrack. When an endpoint record and a Mesos task give the
// same backend address for a VIP they merge into one backend, which drains
// if either source says so. Endpoint records carry no health or draining
// state of their own; draining is Mesos-driven.
//
// # Refused IP VIPs
//
// An IP VIP whose address is allocated to a named VIP (any key under
// /dcnet/v1/vips/, whether the name has backends now or not) is left out
// of the plan and kept as a Conflict (refuseHeld): the named VIP keeps its
// traffic and, as it stays in the plan, its name record. The refusal is
// logged once when it begins and served by /v1/dcnet/vips and the
// dcnet_l4lb_vips_refused gauge until the IP VIP goes or the name is
// released.
//
// # Rejecting and withdrawn VIPs
//
// A VIP whose backends all went while their nodes stayed alive (the
// containers were removed) is kept in the plan without backends, so it
// jumps to novip and refuses new connections, for Options.RejectGrace (a
// named one only while its address stays allocated), then withdrawn
// (rejecter). A VIP whose backends vanished with their nodes' liveness is
// held as it was instead (holder, fail open). Either way the daemon
// computes again at every sync while one is kept, so its time runs out
// without another change.
//
// # Routes
//
// With Options.Routes, every sync also routes the named VIP prefixes and
// each programmed IP VIP outside them to the minuteman link (a
// vroute.Syncer: Apply after the tables' Apply, Reconcile with their
// Reconcile), so that the node's own processes reach VIPs without a
// default route.
//
// # Applied revision
//
// After each successful sync the daemon publishes, off the sync loop and
// under a lease of its own (appliedTTL, revoked when it stops),
// /dcnet/v1/l4lb-applied/<node> = the store revision of the endpoint
// records the plan was computed from (read from the record cache, which
// learns it from each watch answer with its contents). overlayd's withdraw
// waits for every node's to pass the revision that deleted an endpoint
// record before the endpoint's interface goes.
//
// # Named VIP addresses
//
// A named VIP gets one address per family (from 11.0.0.0/8 and
// fd01:c::/64), shared by all its ports and protocols: the address
// dcos-net derived for its name (vipaddr: erlang:phash2 for IPv4, SHA-1
// for IPv6), or the next free one after it. Keys:
//
//	/dcnet/v1/vips/name/<ip|ip6>/<dns name>  = address
//	/dcnet/v1/vips/addr/<address>            = <ip|ip6>/<dns name>
//
// Both are created in one transaction guarded by "neither key exists", so
// two nodes racing for a name or an address agree on one winner; the loser
// reads the winner's address. The address is never changed while its key
// exists. Many new names at once (a framework deploying hundreds of apps)
// are claimed 32 per transaction (every compare must hold; when one does
// not, the same transaction has read the contested keys, the names taken
// elsewhere adopt the winner's address and the rest goes again), and their
// name records are written 128 per transaction.
//
// # Names for DNS
//
// After a sync that programmed a named VIP succeeds, the node writes
// /dcnet/v1/vipnames/<dns name> = {"name":...,"addrs":[...]} when the
// stored value differs. A name therefore never appears before at least one
// node answers on its address. The vips and vipnames prefixes are mirrored
// by one watch (prefix /dcnet/v1/vip), so a release, one transaction over
// both, is seen at once.
//
// # Release
//
// Each node notes, in memory, since when a known named VIP (one with an
// address key or a name record) has had no backend in any record, alive
// or not. After Options.ReleaseGrace (checked at each sync, so at most one
// SyncInterval later) it releases it: it reads the endpoint records, the
// Mesos backend records and the VIP's keys in one read at revision R, and
// gives up if any record still declares the name; otherwise one
// transaction deletes the address keys of both families and the name
// record, guarded by: no key under /dcnet/v1/endpoints/ or
// /dcnet/v1/mesos-backends/ modified after R, and each of the VIP's keys
// at the revision read. A node whose view lags cannot release a name that
// just got a backend, and nodes releasing at once delete once (the others'
// compares fail). A backend that appears later allocates the name again,
// possibly at another address.
package daemon
