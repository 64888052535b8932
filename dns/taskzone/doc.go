// Package taskzone carries the dcos.thisdcos.directory task names from the
// Mesos-DNS masters to every node's dcnet-dns through etcd.
//
// The masters (dcnet-dns --mode mesos-dns --etcd-endpoints ...) compute the
// task names from the Mesos state they poll (records.TaskNames) and publish
// them as one key, Key ("/dcnet/v1/dns/tasknames"), whose value is a JSON
// list sorted by name, type and value:
//
//	[{"name":"web.marathon.agentip.dcos.thisdcos.directory.","type":"A","value":"10.0.0.4"}, ...]
//
// The Publisher writes the key only when the list changed (and again every
// Resync, so a wiped or restored etcd is repaired); several masters
// publishing the same state write the same bytes. Every node's dcnet-dns
// mirrors the key with a cluster.Cache watch (Watch) and serves it as the
// dcos.thisdcos.directory zone, replaced whole on every change; entries
// outside the zone, of other types or with bad addresses are skipped and
// counted.
//
// One key keeps the update atomic and the watch simple; its size is bounded
// by etcd's request limit (--max-request-bytes, 1.5 MiB by default: about
// 15,000 records of ~100 bytes). A publish over the limit fails with etcd's
// error and is logged; the nodes keep the previous list.
package taskzone
