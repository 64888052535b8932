// Package netsim simulates a cluster on one machine with network namespaces,
// for privileged tests, benchmarks and the demo tool.
//
// A Fabric is a netns ("dcnet-<prefix>-fabric") holding the Linux bridge
// fabric0, the underlay switch. Each Node is a netns ("dcnet-<prefix>-<node>")
// joined to fabric0 by a veth pair whose node end is eth0 with the address
// 198.18.0.N/15 (N = node index from 1); the only route is the connected /15.
// The outside host ("dcnet-<prefix>-outside", 198.19.255.254/15) plays the
// internet for masquerade tests. A Container is an empty netns
// ("dcnet-<prefix>-<node>-<container>") with only lo up, for a CNI plugin to
// fill. Nothing is ever created in the host's own network namespace: every
// link is made with `ip -n <netns>`, so it is born inside a namespace that
// netsim created.
//
// # Cleanup
//
// Every namespace and link is pushed on an undo stack the moment it exists,
// and Fabric.Close pops it in reverse order, tolerating objects that are
// already gone, so a fabric that failed half-way is removed as completely as a
// finished one and Close is safe to call repeatedly. Deleting a node's netns
// destroys its veth pair too; the fabric-side end is still deleted explicitly
// first, so the pair goes away even while a leaked process keeps the node
// netns alive.
//
// # Prefix lock and stale namespaces
//
// The prefix keeps concurrent users apart (go test runs packages in parallel,
// so each package picks its own). A fabric holds an exclusive flock on
// /run/dcnet-netsim/<prefix>.lock for its lifetime; the kernel releases it when
// the process dies. Whoever takes the lock therefore knows that namespaces
// named "dcnet-<prefix>-..." belong to a run that crashed before its cleanup,
// and removes them before building anew. A second live user of the same prefix
// gets a clear error instead of a half-shared fabric.
//
// # Processes
//
// StartProcess runs a daemon under `ip netns exec`, which setns()es and then
// exec()s, so the PID that netsim holds is the daemon itself. The daemon runs
// in its own process group: Stop sends SIGTERM to the PID, waits a bounded
// time, then SIGKILLs the group; nothing is ever signalled by name.
//
// # Host guard
//
// Privileged, the gate of every kernel test in the tree, skips a test that
// cannot build namespaces, fails one not named TestPrivileged..., and
// guards the host: it snapshots the host namespace's links, addresses, routes, rules,
// nftables and iptables rulesets and the forwarding-related sysctls, and
// fails the test if they differ after it. The normalisers drop what changes
// without anyone changing the configuration: packet counters, address and
// route lifetimes, netns ids, the fallback tunnel devices (tunl0, gre0, ...)
// that a module load creates in every namespace, empty iptables tables that
// appear when a table module is loaded, and sysctls that appear or vanish
// with a module. A sysctl that exists before and after must keep its value.
package netsim
