// Package cluster is dcnet's cluster store on etcd v3: connecting to an
// external cluster or starting an embedded single member, the versioned key
// layout under /dcnet/v1/, node records, subnet leases allocated with
// compare-and-swap transactions, the node's liveness lease, and a
// prefix cache fed by a watch so readers keep serving while etcd is away.
//
// Key layout (values are JSON):
//
//	/dcnet/v1/nodes/<node>                         Node (no lease: outlives restarts)
//	/dcnet/v1/subnets/<overlay>/<addr>-<bits>      SubnetLease (no lease: a node gets its subnet back)
//	/dcnet/v1/alive/<node>                         Alive, under the node's liveness lease
//	/dcnet/v1/endpoints/<node>/<network>/<container>/<if>  api.Endpoint, under the liveness lease
//
// Subnet allocation: read the overlay's leases; if the node already holds one
// in the wanted range it is returned; otherwise the lowest free block is
// claimed with a transaction that succeeds only if the key does not exist
// (CreateRevision == 0). A lost race re-reads and tries the next block, so two
// nodes can never hold the same subnet.
package cluster
