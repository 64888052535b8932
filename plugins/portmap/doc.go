// Package portmap is the dcnet-portmap CNI plugin: it forwards host ports
// of the node to container ports (DNAT), for traffic that arrives at the
// node, for the node's own processes (also on 127.0.0.1 where the config
// enables "localhost") and for containers that reach their own or a
// neighbour's host port (hairpin).
//
// # Two shapes
//
// Mesos style, compatible with mesos-cni-port-mapper's config: "chain",
// "excludeDevices" (every entry honoured, not only the last one as Mesos'
// port mapper did) and "delegate", any CNI plugin found in CNI_PATH, which
// gets the outer "name" and "args" (and the outer cniVersion when it names
// none). ADD runs the delegate, then maps the ports of
// args["org.apache.mesos"].network_info.port_mappings to the address the
// delegate answered, and prints the delegate's result in the outer config's
// version (0.1.0 without "cniVersion", the format Mesos reads). DEL removes
// the mappings first, then runs the delegate's DEL.
//
// Chained style: no "delegate"; the addresses come from prevResult and the
// mappings from runtimeConfig.portMappings (capability "portMappings"), so
// it follows dcnet in a conflist for cnitool, libcni and podman. ADD passes
// prevResult on.
//
// # Data plane
//
// One nftables table per family, `ip dcnet-portmap` and `ip6 dcnet-portmap`:
//
//	set <chain>       l4proto . port                      a config chain's host ports
//	map targets       l4proto . port : addr . port        where each goes
//	chain prerouting  nat prerouting priority dstnat+10: fib daddr type local jump hostports
//	chain output      nat output     priority dstnat+10: the same, for the node's own processes
//	chain hostports   ip daddr 11.0.0.0/8 return (fd01:c::/64);
//	                  meta l4proto . th dport @<chain> jump <chain>   (one rule per config chain)
//	chain <chain>     iifname "<excluded>" return ...; ip daddr 127.0.0.0/8 return (unless localhost);
//	                  dnat to meta l4proto . th dport map @targets
//	chain hairpin     filter prerouting priority dstnat+11: ct state new ct status dnat
//	                  fib daddr . iif oif exists meta mark set mark | 0x4000
//	chain postrouting nat postrouting priority srcnat: mark 0x4000 masquerade;
//	                  ip saddr 127.0.0.0/8 ct status dnat masquerade
//
// A new connection costs one set lookup per config chain (one to three on
// a node) and one map lookup, whatever the number of mappings; an ADD or
// DEL is one batch of two element changes per port and family. No map
// holds verdicts: the kernel validates every element of a verdict map
// whose elements jump to chains at each commit that adds one, which made
// an ADD's cost grow with the mappings (measured: 11 ms with none, 23 ms
// with 1,000, before the ports moved to plain sets). docs/mesos.md has the
// measurement that chose nftables elements over iptables rules. Elements
// carry the comment "container_id: <id> ifname: <if>", so
// `nft list table ip dcnet-portmap` reads like Mesos' `iptables -t nat -S
// M-DCOS`.
//
// # VIPs are never captured
//
// dcnet-l4lb translates VIPs in its own table at priority dstnat; these
// chains run at dstnat+10, and the kernel runs a later NAT chain of a hook
// only while no earlier one translated the connection, so a connection to
// any VIP l4lb programs (named or IP VIP, with or without backends) never
// reaches them, whatever its port. The l4lb VIP ranges are also skipped
// explicitly, and only local destinations (fib daddr type local) are
// translated at all, which a dcnet VIP never is. The hairpin mark is the
// same bit with the same meaning as l4lb's, so either table's postrouting
// chain serves the other's connections.
//
// # State and reconciliation
//
// The state is a bbolt file in "stateDir" (default /var/lib/dcnet/portmap):
// a record per container interface (mappings, addresses, chain), an index
// host port -> holder, and the chains' specs with their use counts. Opening
// it locks it, so plugin processes take turns; the delegate runs outside
// the lock. An ADD first refuses a host port that another container holds
// (code 101, naming the holder), then runs the delegate, then, holding the
// lock, checks again, writes the record and applies the kernel change in
// one state transaction (rolled back if the kernel refuses; the delegate's
// ADD is then undone). Each ADD checks the tables' skeleton (a few netlink
// dumps, independent of the mappings) and rebuilds both tables from the
// state when they are missing or damaged; it re-adds its own elements, and
// falls back to reconciling every element when the kernel refuses the
// batch. CHECK and GC reconcile every element with the state; GC first
// drops the records of containers the runtime no longer lists. DEL deletes
// the record's elements (or, when the kernel refuses, every element tagged
// with the container), a chain no record uses any more, and both tables
// with the last record. Nothing runs a shell or takes the xtables lock
// (MESOS-9127).
//
// Every runtime on a node must share one state directory (the default does
// so): the tables carry an empty chain state-<8 hex digits of the
// directory's SHA-256>, and an ADD through another state directory fails
// instead of rebuilding the tables from its own records (which would wipe
// the first one's mappings); its DEL leaves them alone.
//
// # Error codes
//
// 4 the delegate is not in CNI_PATH; 6/7 bad config (the message names the
// field: a port out of [1, 65535], an unknown protocol, an excludeDevices
// entry that is not a device name); 11 the state stayed locked; 101 a host
// port is taken (the message names the holder); a failing delegate's own
// code, its message prefixed with "delegate <type> <command>"; 999
// nftables failures.
package portmap
