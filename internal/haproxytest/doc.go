// Package haproxytest runs dcnet-l7lb's data plane for tests and
// benchmarks: Debian's HAProxy supervised by l7lb/haproxy and driven by
// l7lb/apply inside a netsim node, a client node, and small HTTP backends
// that say who they are inside application nodes.
package haproxytest
