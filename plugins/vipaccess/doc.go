// Package vipaccess is the dcnet-vipaccess CNI plugin, dcnet's take on
// dcos-cni's dcos-l4lb: it gives a container on a network that has no
// route to the VIPs or to dcnet-dns (DC/OS's `spartan-net`: a bridge whose
// routes reach the overlay and the agent network only) both, without
// giving it anything else.
//
// # Shapes
//
// As DC/OS's plugin, it wraps the network's own plugin:
//
//	{"cniVersion":"0.2.0","name":"spartan-net","type":"dcnet-vipaccess",
//	 "delegate":{"type":"bridge","bridge":"sprt-cni0",...}}
//
// runs the delegate with the config's cniVersion, name and args copied in,
// then adds its link; DEL removes the link, then runs the delegate's DEL.
// In a conflist it runs chained after the network's plugin (prevResult).
// Either way the result is the network's (the link is not reported, as
// dcos-l4lb did not report it).
//
// # The link
//
// A veth pair: `spartan` in the container (Config.Interface), vipa<8 hex>
// on the node (l4lbapi.VIPAccessPrefix). The container end gets a /32 from
// 198.51.100.10-253 (host-local IPAM, one pool per node, as dcos-l4lb) and,
// with IPv6, the /128 fd01:d::<the IPv4 address>. Its routes all go via a
// gateway that exists only as a permanent neighbour entry (169.254.1.1 and
// fe80::1, both the node end's MAC, as Calico does), so nothing depends on
// the node answering ARP or NDP:
//
//	198.51.100.1-3/32   dcnet-dns (Config.DNS)
//	11.0.0.0/8, fd01:c::/64   the named VIP ranges
//	default, metric 4096   every IP VIP: a more specific route of the
//	                       network wins; without one, traffic comes to the
//	                       node, where dcnet-l4lb's vipaccess chain refuses
//	                       whatever is not a VIP connection (ICMP net
//	                       unreachable, as the missing route would have)
//
// The node end has no address, only host routes to the container's
// addresses. dcnet-l4lb translates VIP connections arriving on it
// (prerouting, as for any container) and masquerades them (the
// container's link address means nothing to other nodes); DNS queries to
// 198.51.100.1-3 are local on the node. dcos-l4lb registered the container's
// netns for dcos-net to program IPVS inside it; dcnet's daemons never enter
// a container netns, so the link routes VIP traffic to the node instead.
package vipaccess
