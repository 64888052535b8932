// Package datapath plans and applies the kernel state overlayd owns on a
// node: the overlay bridges with their gateway addresses, IP forwarding, and
// masquerade of overlay traffic that leaves the overlay.
//
// Plan is pure: it turns the configuration and the node's subnet leases into
// a Want value. Apply hands each part of Want to a Kernel, whose methods are
// idempotent "ensure" operations: they read the kernel's state, adopt what is
// already right and repair only what differs, so applying the same Want twice
// changes nothing and a restart never deletes and re-adds working state.
// Netlink implements Kernel on Linux; Fake records state as text for tests.
package datapath
