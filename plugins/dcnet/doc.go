// Package dcnet is the dcnet CNI plugin: it gives a container an interface on
// a dcnet overlay. overlayd (over its local socket) owns the node bridge, the
// addresses and the endpoint records; this plugin does the per-container
// kernel work through a Kernel (package veth in production, FakeKernel in
// tests) and answers in the CNI version the config asks for (0.1.0 through
// 1.1.0; a config without "cniVersion" is 0.1.0, the "ip4"/"ip6" format Mesos
// reads).
//
// # ADD
//
// The config is parsed and the container netns probed (it must open and have
// no interface CNI_IFNAME) before anything is allocated, so a bad config or
// netns leaves nothing behind and a repeated ADD cannot tear down a live
// interface. Then overlayd allocates (idempotent per network, container ID
// and interface), the Kernel creates the veth pair (host end
// "veth"+8 hex digits of a hash of container ID and interface, see
// HostVethName) and configures it, and only then is the endpoint record
// published (the allocation is Unpublished): no VIP sends a connection to
// an address nothing answers yet. Any failure after the allocation removes
// what was created and releases the attachment.
//
// # DEL
//
// DEL first withdraws the endpoint record: overlayd deletes it and answers
// once every node's dcnet-l4lb has stopped choosing the container (or
// after its withdrawWait bound), so no VIP connection goes to an interface
// that is gone. Then it removes the container interface (when CNI_NETNS is
// set and still exists), the host end (when still there), and releases the
// attachment.
// Each step tolerates "already gone", so DEL succeeds twice, without an ADD,
// and after a reboot. When overlayd is unreachable the interfaces are removed
// anyway and DEL fails with code 11 (try again later) so that the runtime
// retries the release.
//
// # Error codes
//
// 4 CNI_NETNS missing on ADD; 6/7 bad config (see package netconf); 8 the
// netns cannot be opened; 11 overlayd unreachable or not ready; 100
// (lease.CodeSubnetExhausted) the node subnet is full; 3 CHECK of an unknown
// attachment; 50 STATUS while overlayd is unreachable; 999 anything else,
// including kernel failures.
package dcnet
