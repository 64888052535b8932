// Package ipam is overlayd's node-local IP allocator: it hands out one
// address from every range (IPv4 and/or IPv6 node subnet) of an overlay
// network to each container attachment, and keeps what it handed out in a
// bbolt file so that a restarted overlayd knows every live attachment.
//
// # Layout
//
// The bbolt file holds five buckets:
//
//	attachments  network\x00containerID\x00ifName -> JSON Attachment
//	addresses    network\x00<family><raw addr>     -> attachment key
//	cursors      network\x00<subnet>               -> last allocated address (text)
//	meta         key                               -> value (the daemon's, see PutMeta)
//	ipam         "version"                         -> layout version
//
// Names may not contain NUL, so the byte order of attachment keys is the order
// of List (network, containerID, ifName). Address keys end with a family byte
// ('4' or '6') and the address's raw big-endian bytes, so the addresses of
// one subnet are one contiguous, numerically ordered run of keys.
//
// # Round robin
//
// Each (network, subnet) has a cursor: the last address allocated from it.
// Allocation searches forward from the address after the cursor to the end
// of the subnet, then wraps to its start (like CNI host-local), so an address
// that was just released is not handed out again at once. The search walks a
// bbolt cursor over the allocated addresses of the subnet in step with the
// candidate address: a candidate is either the next allocated key, the
// gateway, or free. Hence it visits at most allocated+2 candidates (every
// allocated address, the gateway, and the free one) and never more than the
// subnet holds; it never enumerates the subnet, which matters for IPv6 /80
// ranges. The network address and the last address (IPv4 broadcast, IPv6
// all-ones) lie outside the searched host range [network+1, last-1]; for
// IPv6 this also skips the subnet-router anycast address.
//
// # Group commit
//
// Every write (Allocate, Release, GC, PutMeta) is an op handed over an
// unbuffered channel to one writer goroutine. The writer takes the first op,
// then drains every op whose caller is already waiting (without blocking, up
// to maxBatch), applies them in order in one bbolt Update transaction (one
// fsync), and only then answers each caller. An idle store adds no latency:
// there is no timer and no batch delay. Ops applied later in a batch see the
// writes of earlier ones, so two ops never pick the same address.
//
// Each op is split into prepare, which reads and decides (validation,
// existing attachment, free addresses) without writing, and write, which only
// writes. An op that fails in prepare leaves nothing behind and does not
// disturb its batch. If a write fails (a bbolt error), the whole transaction
// is rolled back and every op of the batch is run again in its own
// transaction, so the failure stays with the op that caused it. Reads (Get,
// List, Count, GetMeta) use bbolt View transactions directly.
package ipam
