package cluster

import (
	"fmt"
	"net/netip"
	"strings"
)

// Prefix is the root of every dcnet key. It is the only place the
// versioned root is spelled; every other key derives from it.
const Prefix = "/dcnet/v1/"

// Key prefixes, one per kind of record. doc.go lists who writes and who
// reads each one; records.go holds the value types.
const (
	// NodesPrefix + <node> = Node (overlayd; no lease: outlives restarts).
	NodesPrefix = Prefix + "nodes/"
	// SubnetsPrefix + <overlay>/<addr>-<bits> = SubnetLease (overlayd).
	SubnetsPrefix = Prefix + "subnets/"
	// VTEPsPrefix + <addr>-32 = SubnetLease of a VTEP IPv4 address.
	VTEPsPrefix = Prefix + "vteps/"
	// VTEP6sPrefix + <addr>-128 = SubnetLease of a VTEP IPv6 address.
	VTEP6sPrefix = Prefix + "vteps6/"
	// AlivePrefix + <node> = Alive, under the node's liveness lease.
	AlivePrefix = Prefix + "alive/"
	// EndpointsPrefix + <node>/<network>/<container>/<if> = Endpoint,
	// under the node's liveness lease.
	EndpointsPrefix = Prefix + "endpoints/"
	// MesosBackendsPrefix + <node>/<escaped task id> = MesosBackends, the
	// VIP backends a node's dcnet-l4lb read from its Mesos agent, under the
	// node's liveness lease.
	MesosBackendsPrefix = Prefix + "mesos-backends/"
	// L4LBAppliedPrefix + <node> = L4LBApplied, the store revision of the
	// endpoint records a node's dcnet-l4lb has programmed, under that
	// dcnet-l4lb's own lease.
	L4LBAppliedPrefix = Prefix + "l4lb-applied/"
	// VIPsPrefix holds the named-VIP address allocation: VIPNamePrefix and
	// VIPAddrPrefix, claimed together in one transaction.
	VIPsPrefix = Prefix + "vips/"
	// VIPNamePrefix + <family>/<name> = the address (text).
	VIPNamePrefix = VIPsPrefix + "name/"
	// VIPAddrPrefix + <addr> = <family>/<name>, so an address has one owner.
	VIPAddrPrefix = VIPsPrefix + "addr/"
	// VIPNamesPrefix + <dns name> = VIPName, written once the VIP is
	// programmed.
	VIPNamesPrefix = Prefix + "vipnames/"
	// VIPAndNamesPrefix covers VIPsPrefix and VIPNamesPrefix, so one watch
	// sees both.
	VIPAndNamesPrefix = Prefix + "vip"
	// TaskNamesKey is the parent of the task name keys. Before sharding it
	// was the one key holding every name; a publisher deletes it.
	TaskNamesKey = Prefix + "dns/tasknames"
	// TaskNamesPrefix + <fqdn> = TaskAddrs (the elected Mesos-DNS master).
	TaskNamesPrefix = TaskNamesKey + "/"
	// PoolsPrefix + <pool name> = an Edge-LB-style pool document
	// (l7lb/l7lbapi.Pool, normalized JSON), written by dcnet-l7lb's pools
	// API and read by every dcnet-l7lb --pool <name>.
	PoolsPrefix = Prefix + "l7/pools/"
	// PublisherPrefix is where the Mesos-DNS masters elect the task-name
	// publisher (etcd's election recipe: PublisherPrefix + lease ID in hex,
	// valued with the master's ID).
	PublisherPrefix = Prefix + "dns/publisher/"
)

// Prefixes lists every key prefix of the layout, for doc tests and tools.
var Prefixes = []string{
	NodesPrefix, SubnetsPrefix, VTEPsPrefix, VTEP6sPrefix, AlivePrefix, EndpointsPrefix,
	MesosBackendsPrefix, L4LBAppliedPrefix, VIPNamePrefix, VIPAddrPrefix, VIPNamesPrefix, TaskNamesPrefix, PublisherPrefix,
	PoolsPrefix,
}

// L4LBAppliedKey is the key of node's dcnet-l4lb applied revision.
func L4LBAppliedKey(node string) string { return L4LBAppliedPrefix + node }

// NodeKey is the key of node's Node record.
func NodeKey(node string) string { return NodesPrefix + node }

// AliveKey is the key of node's liveness record.
func AliveKey(node string) string { return AlivePrefix + node }

// NodeEndpointsPrefix is the prefix of node's endpoint records.
func NodeEndpointsPrefix(node string) string { return EndpointsPrefix + node + "/" }

// EndpointKey is the key of one attachment's endpoint record.
func EndpointKey(node, network, containerID, ifName string) string {
	return NodeEndpointsPrefix(node) + strings.Join([]string{network, containerID, ifName}, "/")
}

// NodeMesosBackendsPrefix is the prefix of node's Mesos backend records.
func NodeMesosBackendsPrefix(node string) string { return MesosBackendsPrefix + node + "/" }

// PoolKey is the key of the pool document named name.
func PoolKey(name string) string { return PoolsPrefix + name }

// SubnetKey is the key of overlay's subnet lease p.
func SubnetKey(overlay string, p netip.Prefix) string {
	return BlockKey(SubnetsPrefix+overlay+"/", p)
}

// VTEPKey is the key of the lease of VTEP address a.
func VTEPKey(a netip.Addr) string {
	if a.Is6() {
		return BlockKey(VTEP6sPrefix, netip.PrefixFrom(a, 128))
	}
	return BlockKey(VTEPsPrefix, netip.PrefixFrom(a, 32))
}

// BlockKey is the key of block p under keyPrefix: <keyPrefix><addr>-<bits>.
func BlockKey(keyPrefix string, p netip.Prefix) string {
	return fmt.Sprintf("%s%s-%d", keyPrefix, p.Addr(), p.Bits())
}

// ParseBlockKey returns the block a BlockKey names.
func ParseBlockKey(key string) (netip.Prefix, bool) {
	tail := key[strings.LastIndexByte(key, '/')+1:]
	j := strings.LastIndexByte(tail, '-')
	if j < 0 {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(tail[:j] + "/" + tail[j+1:])
	return p, err == nil
}
