// Package zkleader finds the leading Mesos master the way Mesos-DNS does
// with its "zk" setting: from the znodes the masters write to ZooKeeper.
//
// Every Mesos master contending for leadership holds an ephemeral
// sequential znode under the election path (zk://host:2181,.../mesos):
// "json.info_<seq>" holding its MasterInfo as JSON ({"address":{"ip":...,
// "port":...},"hostname":...,"id":...,"pid":"master@ip:port",...}; older
// Mesos also wrote protobuf "info_<seq>" nodes, and the replicated log
// keeps "log_replicas" there, both ignored). The contender with the lowest
// sequence number leads (ZooKeeper's leader election recipe).
//
// Detector watches the path's children (a ZooKeeper watch, so a change
// is seen at once) and reports Masters: the leader's "ip:port" and every
// contender's, leader first, the rest in sequence order, the order
// Mesos-DNS's detector hands its generator. It keeps reporting through
// ZooKeeper outages: the session is re-established with backoff, and a
// path without contenders reports no leader.
//
// Leading is pure (the choice among children); ParseURL parses Mesos's
// zk:// form, with "user:password@" for digest authentication.
package zkleader
