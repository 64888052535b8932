// Package vroute routes VIP addresses on every node, so that clients that
// have no default route reach them: processes in the node's own network
// namespace (Mesos HOST-mode tasks, an operator's curl) and, through the
// dcnet-vipaccess CNI plugin, containers on networks without one.
//
// # Why routes
//
// dcnet-l4lb translates VIP connections in nftables' nat hooks (prerouting
// for containers, output for the node's own processes). A local process
// meets the route lookup of connect() before the output hook: with no
// route to the VIP the call fails with ENETUNREACH and no packet is ever
// translated. dcos-net routed every VIP itself (dcos_l4lb_route_mgr: a
// local route per VIP on its `minuteman` dummy link), so DC/OS host tasks
// never depended on a default route. dcnet does the same with unicast
// routes on a link of its own:
//
//	ip link: minuteman, a dummy link (a port-less bridge where the kernel
//	         has no dummy type), up, NOARP, no address
//	11.0.0.0/8 dev minuteman proto 220 scope link      the named ranges
//	fd01:c::/64 dev minuteman proto 220
//	<ip>/32 (or /128) dev minuteman proto 220          each IP VIP outside them
//
// A connection to a VIP then finds a route, its first packet is
// translated by the output hook and routed again to the backend; nothing
// ever leaves through minuteman. A VIP address that is not programmed goes
// nowhere (the link has no port, NOARP: nothing is resolved or sent), a VIP
// without backends is refused by nftables (novip). Unicast routes rather
// than dcos-net's local ones: a local route makes the node answer every
// port of the address itself, so a VIP's other ports would reach the
// node's own services, and the answer to a translated connection would
// have to leave from the VIP address. The source address the route lookup
// picks does not matter: the lb-K chains mark connections from a node
// address for masquerade (see package dataplane), so the backend answers to
// the node's address on its path to it, whether it is a container on this
// node, on another node through the overlay, or a host-network task on
// another agent through the underlay, with or without rp_filter.
//
// # Reconciling
//
// The routes are planned as data (Plan) and applied by a Syncer: Apply
// diffs the plan against what it applied last, Reconcile reads the link's
// routes back (only those of Protocol, so the kernel's own are left alone)
// and repairs them; a deleted link is recreated. The same plan applied
// twice changes nothing.
package vroute
