// Package cluster is dcnet's cluster store on etcd v3 and its contract:
// every key prefix (keys.go), every record type stored under them
// (records.go), and the machinery every daemon uses to reach them:
// Connect, the liveness lease (Liveness), a watch-fed prefix mirror that
// keeps serving while etcd is away (Mirror, Cache) and a diffing publisher
// of a node's own records (Publisher). It imports no daemon; the embedded
// single-member etcd is package cluster/embedded, so that clients do not
// link etcd's server.
//
// # Layout
//
// Versioned under Prefix; values are JSON of the records.go types.
//
//	key                                                    value          writer                     readers
//	/dcnet/v1/nodes/<node>                                 Node           overlayd of <node>         overlayd (peers), dcnet-dns (/v1/nodes), dcnetctl
//	/dcnet/v1/subnets/<overlay>/<addr>-<bits>              SubnetLease    overlayd (CAS claim)       overlayd
//	/dcnet/v1/vteps/<addr>-32, /dcnet/v1/vteps6/<addr>-128 SubnetLease    overlayd (CAS claim)       overlayd
//	/dcnet/v1/alive/<node>                                 Alive (lease)  overlayd of <node>         overlayd, dcnet-l4lb, dcnet-dns, dcnetctl
//	/dcnet/v1/endpoints/<node>/<net>/<container>/<if>      Endpoint       overlayd of <node> (lease) dcnet-l4lb, dcnet-l7lb, overlayd (/v1/endpoints)
//	/dcnet/v1/mesos-backends/<node>/<escaped task id>      MesosBackends  dcnet-l4lb of <node>       dcnet-l4lb (every node)
//	/dcnet/v1/l4lb-applied/<node>                          L4LBApplied    dcnet-l4lb of <node> (own lease) overlayd (withdraw)
//	/dcnet/v1/vips/name/<ip|ip6>/<dns name>                address text   dcnet-l4lb (CAS claim)     dcnet-l4lb
//	/dcnet/v1/vips/addr/<address>                          <fam>/<name>   dcnet-l4lb (CAS claim)     dcnet-l4lb
//	/dcnet/v1/vipnames/<dns name>                          VIPName        dcnet-l4lb (programmed)    dcnet-dns (l4lb.thisdcos.directory)
//	/dcnet/v1/dns/tasknames/<fqdn>                         TaskAddrs      elected Mesos-DNS master   dcnet-dns (dcos.thisdcos.directory)
//	/dcnet/v1/dns/publisher/<lease hex>                    master ID      Mesos-DNS masters          Mesos-DNS masters (election)
//	/dcnet/v1/l7/pools/<name>                              l7lbapi.Pool   dcnet-l7lb's pools API     dcnet-l7lb --pool <name>
//
// An endpoint goes before its interface: overlayd withdraws the record
// (deletes the key at revision R) and waits, bounded, until every
// /dcnet/v1/l4lb-applied/<node> holds a revision >= R, i.e. every running
// dcnet-l4lb has stopped sending new connections to it. Those keys live
// under each dcnet-l4lb's own short lease, so a stopped one is not waited
// for (after at most its TTL).
//
// Node, subnet and VTEP records carry no lease: a rebooting node gets its
// subnet back, and only `dcnetctl node remove` or overlayd's reclaim of a
// node gone longer than nodeGracePeriod frees them. Everything a node
// publishes about its workloads (alive, endpoints, mesos-backends) lives
// under the node's liveness lease, so a dead node's records leave with it;
// a restarting daemon reuses the lease and republishes, so they never blink
// out.
//
// Pool documents carry no lease either: a pool outlives every instance
// that serves it, and each instance keeps a copy on local disk so that it
// serves the last one it saw while etcd is away. Their value type is the
// contract of dcnet-l7lb's API (l7lb/l7lbapi), which also validates them.
//
// Named VIP addresses are claimed as a pair (name -> address and address
// -> name) in one compare-and-swap transaction, so two nodes never give one
// name two addresses or one address two names.
package cluster
