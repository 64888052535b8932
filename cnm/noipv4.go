package cnm

import (
	"strings"
)

// IPv6-only networks and dockerd's IPv4 pool.
//
// dockerd before 27 (Debian 12 ships 20.10) gives every network an IPv4
// pool and every endpoint an IPv4 address: it asks the IPAM driver for an
// IPv4 pool even when only --ipv6 --subnet fd01:b::.../80 is given, and a
// remote IPAM driver must answer an address for each endpoint. A network
// on an IPv6-only overlay (DC/OS's dcos6) therefore gets a placeholder
// IPv4 pool: 0.0.0.0/0 (which dockerd, as for its own null IPAM driver,
// does not check against the node's routes), a gateway and one address per
// endpoint from 169.254.0.0/16 that are never routed: the endpoint's
// address is a /32 and Join names no IPv4 gateway, so the container has no
// IPv4 route at all, and the address is in no endpoint record (VIPs and DNS
// see only its IPv6 address). dockerd 27 and later with --ipv4=false ask
// for no IPv4 pool and need none of this.
const (
	// noIPv4PoolPrefix + <overlay> is the placeholder pool's ID.
	noIPv4PoolPrefix = "dcnet-noipv4:"
	noIPv4Pool       = "0.0.0.0/0"
	// noIPv4Gateway and noIPv4Address are what the placeholder pool hands
	// out: link-local, a /32, never routed.
	noIPv4Gateway = "169.254.0.1/32"
	noIPv4Address = "169.254.0.2/32"
)

// noIPv4PoolID is the placeholder pool of an IPv6-only overlay.
func noIPv4PoolID(overlay string) string { return noIPv4PoolPrefix + overlay }

// isNoIPv4Pool reports whether id is a placeholder pool.
func isNoIPv4Pool(id string) bool { return strings.HasPrefix(id, noIPv4PoolPrefix) }

// isNoIPv4Addr reports whether addr (CIDR or plain) is a placeholder
// address of a placeholder pool.
func isNoIPv4Addr(addr string) bool {
	a := strings.Split(addr, "/")[0]
	return a == strings.Split(noIPv4Address, "/")[0] || a == strings.Split(noIPv4Gateway, "/")[0]
}
