// Package overlayd is the node daemon: it leases the node's overlay subnets
// from the cluster store, owns the node bridges and masquerade rules
// (datapath), allocates container addresses (ipam) and serves them on a
// local API socket, and publishes an endpoint record for every attachment.
//
// Design notes:
//
//   - The local bbolt database is the source of truth for attachments. The
//     endpoint records in etcd are derived from it by a Publisher that
//     reconciles on every change and on a timer, under the node's liveness
//     lease, so an etcd outage or a crash never loses a record and the ADD
//     path never waits on etcd.
//   - An attachment's record appears after its interface and goes before
//     it: a runtime allocates Unpublished and publishes once the interface
//     exists, and withdraws before removing it (withdraw.go: the record is
//     deleted with no publisher sync in between, then overlayd waits,
//     bounded by withdrawWait, until every dcnet-l4lb's applied revision
//     passes the deletion, and lingers a moment for connections translated
//     just before).
//   - Subnet leases are remembered locally too, so a node that restarts while
//     etcd is away keeps serving its own subnet.
//   - The API starts before the store is reached; allocation answers
//     "unavailable" (the CNI plugin turns that into "try again later") until
//     the node's subnets are known.
package overlayd
