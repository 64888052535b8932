// Package clustersim starts the cluster's daemons in the namespaces of a
// netsim fabric and waits until they serve, for the privileged end-to-end
// tests (internal/e2e) and the benchmarks (bench/...) alike: Debian's etcd
// (one member or a cluster, StartEtcd), overlayd (Overlayd), and cnitool
// run inside a node as a container runtime runs the CNI plugins (CNITool).
//
// Who starts a process also stops it: an Owner, which is benchkit.Env for a
// benchmark (stopped in its Close) and ForTest(t) for a test (stopped in
// t.Cleanup). Every wait is bounded, and one that gives up says why, with
// the last lines of the daemon's log.
//
// The test or benchmark process lives in the host's namespace, which has
// no route to the underlay: the etcd client StartEtcd returns dials its
// connections inside a member's netns, and overlayd is asked over its unix
// socket, which is a file.
package clustersim
