// Package dataplane programs dcnet-l4lb's VIPs into the node's kernel with
// nftables: it plans the wanted state as plain data (Build), diffs it against
// what the kernel holds (Diff), and applies the difference as one atomic
// batch through a small Kernel interface (Sync). NFTables is the netlink
// implementation (github.com/google/nftables); Fake is an in-memory one that
// prints its state as text.
//
// # Layout
//
// One table per family, `ip dcnet-l4lb` and `ip6 dcnet-l4lb`, each holding
//
//	map vips      (daddr . l4proto . dport) : verdict        jump lb-K or novip
//	map backends  (daddr . l4proto . dport . slot) : (addr . port)
//	chain prerouting  nat hook prerouting priority dstnat: daddr . l4proto . th dport vmap @vips
//	chain output      nat hook output priority -100:       the same, for local clients
//	chain lb-K        dnat to daddr . l4proto . th dport . numgen random mod K map @backends
//	chain novip       reject with tcp reset; reject (ICMP port unreachable)
//
// so a new connection costs two hash lookups (the verdict map, then the
// backend map) whatever the number of VIPs, and only the first packet of a
// connection sees the chains (nat chains are consulted once per conntrack
// entry). A VIP with K backend slots jumps to lb-K; one lb-K chain serves
// every VIP with K slots, so the chains are a small fixed-size set, created
// when the first VIP with K slots appears and deleted with the last. All
// per-VIP state lives in map elements: an update is a batch of element
// adds and deletes, never a rule change. A VIP without a usable backend
// jumps to novip and is refused at once (TCP reset, ICMP port unreachable)
// instead of being black-holed.
//
// # Slots and weights
//
// Only healthy, non-draining backends get slots. A backend's weight is its
// number of slots; weights are divided by their greatest common divisor so
// K stays small. Slots are numbered 0..K-1 over the backends sorted by
// address. Existing connections are kept by conntrack whatever the slots
// become, which is how draining backends keep their connections.
//
// # Batches
//
// Sync reads each family's table back. A missing table, or one whose fixed
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
// The netlink implementation builds rules from google/nftables expressions,
// using the register layout nft itself emits for the same rules (checked
// with `nft --debug=netlink`), so `nft list ruleset` shows them as written
// above.
package dataplane
