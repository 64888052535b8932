// Package node is dcnet-dns's per-node server (dcos-dns "spartan"), the
// daemon of --mode node: Config, New and Run.
//
// Its local zones, answered fresh: spartan. (ready.spartan, ns.spartan on
// the listen addresses), thisnode.thisdcos.directory (Config.NodeIPs),
// l4lb.thisdcos.directory (the named VIP records mirrored from etcd, each
// held until the local dcnet-l4lb has programmed it, package vipzone),
// dcos.thisdcos.directory (the task names: from the node's own poll of the
// Mesos state when Config.Mesos names one, else mirrored from etcd,
// package taskzone), mesos. (only with the node's own poll) and one zone
// per --cname. Everything else goes through the shared query path of
// package resolver: *.mesos to Mesos-DNS on the masters, the forwarded
// zones, the upstreams, behind the cache.
//
// Run also gives the listen addresses no link holds to the spartan link
// (package spartan) and serves the HTTP API (package httpapi) with the
// routes dcos-net served beside it: /v1/vips, proxied from the local
// dcnet-l4lb, and /v1/nodes, read from etcd.
//
// Errors of New are configuration errors (dcnet-dns exits with status 2):
// an invalid Config, an unreadable resolv.conf, an unusable etcd endpoint
// list, a state file that cannot be read. Errors of Run are not (status 1).
package node
