package dnsapi

import "strings"

// DefaultListenAddrs are the DNS addresses of the per-node server in node
// mode, comma-separated: dcos-dns's "spartan" addresses, port 53, UDP and
// TCP, held by the link named SpartanLink.
const DefaultListenAddrs = "198.51.100.1:53,198.51.100.2:53,198.51.100.3:53"

// DefaultListen returns DefaultListenAddrs as a fresh slice.
func DefaultListen() []string { return strings.Split(DefaultListenAddrs, ",") }

// SpartanLink is the link that holds the node server's listen addresses.
const SpartanLink = "spartan"

// The health probe every node server answers: an A question for ReadyName
// gets ReadyAddr.
const (
	ReadyName = "ready.spartan."
	ReadyAddr = "127.0.0.1"
)
