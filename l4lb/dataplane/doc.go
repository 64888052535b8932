// Package dataplane programs dcnet-l4lb's VIPs into the node's kernel with
// nftables: it plans the wanted state as plain data (Build), diffs it against
// what the kernel holds (Diff), and applies the difference as one atomic
// batch through a small Kernel interface. A long-lived caller keeps a
// Syncer: Syncer.Apply diffs a plan against the state it applied last (no
// kernel read), Syncer.Reconcile reads the kernel back and repairs it; Sync
// is a one-shot Reconcile. NFTables is the netlink implementation
// (github.com/google/nftables); Fake is an in-memory one that prints its
// state as text.
//
// # Layout
//
// One table per family, `ip dcnet-l4lb` and `ip6 dcnet-l4lb`, each holding
//
//	map vips      (daddr . l4proto . dport) : verdict        jump lb-K or novip
//	map backends  (daddr . l4proto . dport . slot) : (addr . port)
//	chain prerouting  nat hook prerouting priority dstnat: daddr . l4proto . th dport vmap @vips
//	chain output      nat hook output priority -100:       the same, for local clients
//	chain hairpin     filter hook prerouting priority dstnat + 1: mark hairpin connections,
//	                  and VIP connections from dcnet-vipaccess links (iifname "vipa*")
//	chain vipaccess   filter hook forward priority filter: refuse the rest from those links
//	chain postrouting nat hook postrouting priority srcnat:  masquerade what is marked
//	chain lb-K        mark a connection from a node address (fib saddr type local);
//	                  dnat to daddr . l4proto . th dport . numgen inc mod K map @backends
//	chain novip       reject with tcp reset; reject (ICMP port unreachable)
//
// so a new connection costs two hash lookups (the verdict map, then the
// backend map) whatever the number of VIPs, and only the first packet of a
// connection sees the nat chains (they are consulted once per conntrack
// entry); later packets pay only the first test of the hairpin filter
// chain (ct state new). A VIP with K backend slots jumps to lb-K; one lb-K chain serves
// every VIP with K slots, so the chains are a small fixed-size set, created
// when the first VIP with K slots appears and deleted with the last. All
// per-VIP state lives in map elements: an update is a batch of element
// adds and deletes, never a rule change. A VIP without a usable backend
// jumps to novip and is refused at once (TCP reset, ICMP port unreachable)
// instead of being black-holed.
//
// # Slots, weights and round robin
//
// Only healthy, non-draining backends get slots. A backend's weight is its
// number of slots; weights are divided by their greatest common divisor so
// K stays small. Slots are numbered 0..K-1 over the backends sorted by
// address. Existing connections are kept by conntrack whatever the slots
// become, which is how draining backends keep their connections.
//
// The lb-K rule picks the slot with `numgen inc mod K`: a counter that the
// kernel keeps per rule and increments atomically for every new
// connection (the nat chains see only a connection's first packet), so
// slots are taken in round robin. A client's 500 connections to a VIP of
// 5 backends give each exactly 100 when nothing else opens connections to
// K-slot VIPs on its node meanwhile; `numgen random` missed ±20 % of an
// even share for some backend in about one client in ten. A weighted
// backend with w of the K slots gets w/K of the connections.
//
// The counter is one per lb-K rule, so per node and per K, shared by all
// VIPs with K slots, not one per VIP. Connections to several such VIPs
// interleave on one counter: each VIP sees a subsequence of it, which
// stays even as long as the arrivals to different VIPs are not locked in
// step with the counter (two VIPs of 2 slots opened strictly alternately
// would each see one slot only; independent clients are not in step). A
// counter per VIP would need a rule (or a chain) per VIP: every
// VIP change would become a rule change and the chains would grow with the
// VIPs, against the elements-only design above, for a gain only in that
// lockstep case; so the counter stays per rule. The counter starts at 0
// when a rule is created (a new lb-K chain, a rebuilt table).
//
// A table written by an earlier version (lb-K with numgen random) fails
// the skeleton check of the read-back (the lb-K rule must be numgen inc
// mod K, offset 0) and is rebuilt once by the first Reconcile (and by the
// first Apply, which reads back).
//
// # Batches
//
// Reconcile (and Sync) reads each family's table back. A missing table, or one whose fixed
// skeleton (base chains, maps, the rule of each chain) differs from the
// wanted one (hand damage), is rebuilt in one batch: delete the table if
// present, create the skeleton and every element. Otherwise the batch holds
// only the element and lb-K chain differences, in an order the kernel
// accepts: new chains, element deletes, element adds, then deletes of
// chains no element jumps to any more. Elements are split over several
// netlink messages of at most MaxElementsPerMessage elements each; the
// messages still commit as one transaction. Applying the same plan twice
// sends nothing the second time.
//
// # Hairpin
//
// A client whose VIP connection is translated to a backend reached through
// the interface the client's packet came in on (itself, or a neighbour on
// the same node bridge) would get the answer straight from the backend,
// not un-NATed by the node: from its own address (dropped as a martian) or
// from the neighbour's (reset). The hairpin chain runs right after the
// DNAT and marks such first packets (HairpinMark) when
// `fib daddr . iif oif exists`, a route lookup of the translated
// destination restricted to the input interface; the postrouting chain
// masquerades marked connections, so the answer comes back through the
// node. Only those connections lose their client address. With
// br_netfilter (bridge-nf-call-iptables, loaded wherever dockerd runs) the
// input interface is still the bridge and the same rule applies; a
// container reaching itself then also needs hairpin mode on its bridge
// port, which the dcnet CNI plugin sets.
//
// # Host clients
//
// A process of the node itself (its connection goes through the output
// chain; package vroute gives it a route) picks its source address from
// the route to the VIP, which says nothing about the path to the backend:
// a backend on another node would answer through the underlay a connection
// that went out through the overlay, or the other way round. The first rule
// of every lb-K chain therefore marks a connection whose source is an
// address of the node (`fib saddr type local`, true only on the output
// path) with HairpinMark, and the postrouting chain masquerades it to the
// address of the interface towards the backend. Containers' connections
// keep their address.
//
// # VIP access links
//
// The dcnet-vipaccess CNI plugin links a container on another network to
// the node (node end named l4lbapi.VIPAccessPrefix + hash) and routes VIPs,
// DNS and a low-priority default through it. The hairpin chain's second
// rule marks the VIP connections arriving on such a link for masquerade
// (the container's link address means nothing elsewhere), and the
// vipaccess chain refuses anything else they would forward (`ct status !
// dnat reject with icmp net-unreachable`), as the missing route would
// have: the link adds VIPs and DNS to the container's reach and nothing
// more. DNS to the node's own addresses is local delivery, not forwarded.
//
// # Desired state in memory
//
// A Syncer remembers, per family, the State the kernel holds after its last
// successful batch (the last plan, kept by reference), so Apply sends only
// the changed elements, whatever the number of VIPs. Build also records a
// 64-bit digest of every VIP's slots, so finding the changed VIPs costs one
// lookup per VIP rather than per element (about 0.5 ms for 10,000 VIPs);
// a hand-made Plan without digests gets a full Diff. It trusts
// that memory until something may have made it wrong: the first Apply, and
// the first Apply after any read or apply error, reads the table back
// instead (a failed batch may or may not have committed). Hand damage is
// invisible to Apply; Reconcile, on a slow timer, repairs it.
//
// # Stale UDP conntrack entries
//
// A UDP "connection" is a conntrack entry that lives as long as datagrams
// keep flowing, so a client that keeps one socket open would keep sending
// to a backend long gone. When a batch removes a backend from a UDP VIP,
// the Syncer deletes the entries whose original destination is the VIP and
// whose reply source is that backend (Conntrack, over netlink), after the
// batch commits, so the next datagram is translated afresh. When a UDP VIP
// gets its first backend, the untranslated entries to it (reply source =
// the VIP itself) go too. TCP entries are left alone: a draining backend
// keeps its connections. Failed deletions are reported in Result and
// retried by the next call. Up to 8 flows per call, each flow's entries
// are found with a dump the kernel filters (CTA_FILTER, Linux 5.8+:
// original destination, reply source, protocol and ports; for IPv6
// protocol and ports only, the kernel's IPv6 address filter being
// inverted), so only its entries cross the socket; the kernel still walks
// its table once per dump, so more flows share one full dump per family
// filtered in Go, as do the flows whose filtered dump fails and every call
// once a kernel has shown it ignores the filter. Every entry is checked in
// Go before it is deleted. With 50,000 unrelated UDP entries in the table
// one flow's deletion took 20 ms against 193 ms with the full dump (`go
// test -run X -bench ConntrackDeleteUDP ./l4lb/dataplane/`, root).
//
// The netlink implementation builds rules from google/nftables expressions,
// using the register layout nft itself emits for the same rules (checked
// with `nft --debug=netlink`), so `nft list ruleset` shows them as written
// above.
package dataplane
