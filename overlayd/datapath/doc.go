// Package datapath plans and applies the kernel state overlayd owns on a
// node: the overlay bridges with their gateway addresses, IP forwarding,
// masquerade of overlay traffic that leaves the overlay, and the VxLAN
// device vtep1024 with a permanent neighbour, FDB entry and routes for every
// peer.
//
// Plan is pure: it turns the configuration and the node's subnet leases into
// a Want value. Apply hands each part of Want to a Kernel, whose methods are
// idempotent "ensure" operations: they read the kernel's state, adopt what is
// already right and repair only what differs, so applying the same Want twice
// changes nothing and a restart never deletes and re-adds working state.
// Netlink implements Kernel on Linux; Fake records state as text for tests.
//
// # Masquerade, forwarding and no-track chains
//
// The iptables side goes through IPTables, the few go-iptables methods the
// chains need plus Save (one iptables-save of a table): ensureChain first
// compares the saved table with the wanted chain and jumps, which in the
// steady state is its only exec; otherwise it adopts what is right,
// rewrites a chain whose rules differ and re-adds a missing jump at the top
// of its parent, leaving rules that are not dcnet's alone. Netlink hands it
// the real binaries; FakeIPTables keeps the tables in memory and prints them
// as `-t nat -A DCNET-POSTROUTING ...` lines, so this logic is tested
// without root. The rule builders (MasqueradeRules, NoTrackRules) are pure
// and portable.
//
// # The overlay: plan, read, diff, write
//
// PlanPeers turns the VTEP and the peer list into a PeerState (plain, sorted
// data), skipping the node itself. EnsurePeers reads the same PeerState back
// from the kernel (ReadPeerState), DiffPeers compares the two with a merge
// walk over the sorted slices (no maps; 1,000 peers plan and diff in about
// a millisecond), and only the differences are written, so an unchanged
// peer costs no netlink write and nothing blinks in `ip monitor`.
//
// What is read as ours: neighbours in state PERMANENT (learned ones and
// IPv6 link-local ones belong to the kernel), FDB entries that are
// PERMANENT, flagged self and carry a destination (not the zero or own MAC),
// and main-table unicast routes through the device that the kernel did not
// make itself (not proto kernel). A learned FDB entry for a peer's MAC is
// therefore replaced by a permanent one.
//
// Writes follow the kernel's keys, so a change is a replace in place: a
// neighbour is keyed by IP (NeighSet = `ip neigh replace`), an FDB entry by
// MAC (NeighSet with NTF_SELF on AF_BRIDGE = `bridge fdb replace`; a unicast
// MAC has one destination, and `append` would not add another), a route by
// destination and metric (RouteReplace with onlink; an IPv6 route without a
// metric is stored with metric 1024, which reads back as the default).
// Sets go before deletes; deletes tolerate entries already gone.
//
// # The device
//
// EnsureVTEP adopts an existing vxlan device whose VNI, UDP port and local
// address match, and fixes its MAC, MTU, up state and addresses in place:
// re-setting a MAC or deleting the device would wipe the neighbours and FDB
// of every peer. The kernel cannot change a live device's VNI, port or local
// address ("Cannot change port"), so only then is it deleted and recreated
// (logged by Netlink.Log). A link of another type with the VTEP's name is an
// error, and EnsurePeers programs nothing onto it. A vxlan device made with
// only a local address gets MTU 1500 from the kernel, so VTEP.MTU should be
// set to the underlay MTU minus VXLANOverhead.
package datapath
