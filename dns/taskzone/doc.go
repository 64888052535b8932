// Package taskzone carries the dcos.thisdcos.directory task names from the
// Mesos-DNS masters to every node's dcnet-dns through etcd.
//
// The masters (dcnet-dns --mode mesos-dns --etcd-endpoints ...) compute the
// task names from the Mesos state they poll (records.TaskNames) and publish
// one key per name under cluster.TaskNamesPrefix: the key is
// that prefix + the fully qualified name, the value the JSON list of its
// addresses, IPv4 first, each family sorted:
//
//	/dcnet/v1/dns/tasknames/web.marathon.agentip.dcos.thisdcos.directory.  ["10.0.0.4"]
//
// Sharding by name keeps every write small: one name is far below etcd's
// request limit (--max-request-bytes, 1.5 MiB), whatever the number of
// tasks, and a change of one task rewrites only its names.
//
// Publishing is a diff (Publisher): the wanted keys are compared with what
// etcd holds under cluster.TaskNamesKey (so the pre-sharding single key itself, and
// names of gone tasks, are deleted) and only the differences are written,
// as puts and deletes in transactions of at most cluster.MaxTxnOps operations
// (etcd's default --max-txn-ops). A large change is therefore not atomic:
// during a publish nodes may see part of it, each name always whole. The
// diff is skipped while the names equal the last published ones, except
// every Resync, which repairs a wiped or restored etcd.
//
// Only one master publishes: the masters campaign in an etcd election
// under cluster.PublisherPrefix (Elector) and the Publisher writes only while
// its master leads, each transaction fenced on the leader's election key
// (Fence), so a master polling an older state cannot undo the
// publisher's names, and one that lost the role mid-publish cannot
// overwrite its successor.
//
// Every node's dcnet-dns mirrors the prefix with a watch (cluster.Mirror)
// and applies each changed key to its zone (Zone, a server.AddrZone): a
// change costs in proportion to the names it touches. Keys outside the
// zone, not under the prefix, or with values that do not decode are skipped,
// counted and logged; addresses that do not parse are dropped.
package taskzone
