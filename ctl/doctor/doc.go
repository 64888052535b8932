// Package doctor is `dcnetctl doctor`: for one node it compares what
// every local daemon wants with what the kernel and the cluster store
// hold, and reports each difference with the command that shows it.
//
// The comparisons are pure functions of plain data (CheckVTEP,
// CheckPeers, CheckTable, CheckVIPZone, ...): the wanted state as the
// daemon reports it over its API, the observed state as the kernel or the
// store has it, and a Check of Findings out. Run gathers the inputs
// through small interfaces (OverlaydAPI, Kernel, Store, L4LBAPI, DNSAPI)
// and calls them; package ctl/doctor/collect implements the interfaces
// with netlink, `nft -j`, HTTP, DNS and etcd, and the fakes in this
// package implement them for tests.
//
// # What is wanted
//
// The doctor never decides what a daemon should want: it takes the
// daemon's own account and checks that the kernel and the store agree.
//
//   - overlayd: its status (VTEP device, networks, store health), its
//     /v1/peers planned exactly as overlayd plans them
//     (datapath.PlanPeers: one permanent neighbour, one permanent FDB
//     entry and one onlink route per node subnet for every peer), the
//     bridges of its networks, its attachments (one endpoint record each,
//     under the liveness lease), its node record, leases and liveness key.
//     The node records of the other nodes must match its peers: a
//     difference means overlayd's copy of the store is stale.
//   - dcnet-l4lb: its /v1/vips turned into the elements of the vips and
//     backends maps of `ip dcnet-l4lb` and `ip6 dcnet-l4lb` the way
//     dcnet-l4lb numbers slots (active, not draining backends, one per
//     address and port, in address order), plus the table's fixed
//     skeleton; and one name record per named VIP with its addresses.
//   - dcnet-dns: the name records in the store (named VIPs and task
//     names) must be what it serves in l4lb.thisdcos.directory and
//     dcos.thisdcos.directory (/v1/records), minus the VIP names it holds
//     back until this node's dcnet-l4lb programs them; and every address
//     it listens on answers ready.spartan.
//
// # Reading nftables
//
// dcnetctl reads dcnet-l4lb's tables with `nft -j list table` and parses
// the JSON (ParseNFT) instead of linking github.com/google/nftables or
// asking dcnet-l4lb for its own diff: the doctor is a second witness
// that needs neither the daemon's code nor the daemon alive (a wedged
// dcnet-l4lb cannot report on itself), the client stays light, and the
// JSON is libnftables' documented format (libnftables-json(5)), the same
// view an operator gets from `nft list table`.
//
// # Outcome
//
// A check fails when it has a finding other than a Note. A daemon that
// does not answer fails its first check and the checks that need it are
// skipped with the reason; a daemon switched off for this node (an empty
// address) is skipped and fails nothing. Report.OK is the exit status.
package doctor
