// Package haproxytest runs dcnet-l7lb's data plane for tests and
// benchmarks: Debian's HAProxy supervised by l7lb/haproxy inside a netsim
// node, small HTTP and TCP backends that say who they are inside other
// namespaces, and self-signed certificates.
package haproxytest
