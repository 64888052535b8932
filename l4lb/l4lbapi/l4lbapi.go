// Package l4lbapi is dcnet-l4lb's HTTP contract: its default address, its
// paths and headers, and the JSON it answers. dcnet-l4lb serves it; dcnet-dns
// (the VIP gate and the /v1/vips proxy), dcnetctl and its doctor read it. It
// imports no daemon, so a client links nothing of dcnet-l4lb.
package l4lbapi

// DefaultAddr is where dcnet-l4lb's HTTP API listens on a node.
const DefaultAddr = "127.0.0.1:62083"

// Paths of the HTTP API.
const (
	// PathVIPs answers []VIP, dcos-net's /v1/vips exactly (what DC/OS's
	// integration tests and tools select on), with an ETag.
	PathVIPs = "/v1/vips"
	// PathDetails answers Details: dcnet's view of the VIPs of the last
	// successful sync (address, name, state, backends with their node and
	// state) and the refused IP VIPs. dcnetctl vips and doctor read it.
	PathDetails = "/v1/dcnet/vips"
	// PathProgrammed + <ip> answers 204 when ip is the address of a VIP
	// in the kernel, 404 with HeaderProgrammed "no" when not, 503 before
	// the first successful sync, 400 for a malformed address: dcnet-dns
	// asks it before answering a VIP name.
	PathProgrammed = "/v1/programmed/"
	// PathMetrics serves the Prometheus metrics.
	PathMetrics = "/metrics"
)

// VIPAccessPrefix begins the name of every node-side interface of the
// dcnet-vipaccess CNI plugin (the link that gives a container on a network
// without a route to the VIPs and to dcnet-dns access to both).
// dcnet-l4lb masquerades VIP connections that come in through such an
// interface and refuses to forward anything else from it, so the link
// adds VIPs and DNS to its container's reach and nothing more.
const VIPAccessPrefix = "vipa"

// HeaderProgrammed is set to "no" on PathProgrammed's 404 answers, which
// tells a real "not programmed" from the 404 of a server without the route
// (an older dcnet-l4lb).
const HeaderProgrammed = "X-Dcnet-Programmed"

// VIP is one VIP of PathVIPs in dcos-net's shape
// (dcos_rest_vips_handler.erl): vip is "<name>.<framework>.l4lb.thisdcos.directory:<port>"
// for a named VIP (one entry for both families) or "<ip>:<port>" for an IP
// VIP (IPv6 unbracketed, as Erlang's inet:ntoa writes it); every backend
// any record lists, alive or not.
type VIP struct {
	VIP      string    `json:"vip"`
	Protocol string    `json:"protocol"`
	Backends []Backend `json:"backend"`
}

// Backend is one backend of a VIP: dcos-net's ip and port, nothing more.
type Backend struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

// Details is what PathDetails answers.
type Details struct {
	VIPs []VIPInfo `json:"vips"`
	// Refused are the IP VIPs not programmed because a named VIP holds
	// their address (see Refused).
	Refused []Refused `json:"refused"`
}

// States of a VIPInfo.
const (
	// StateActive: programmed, at least one backend takes new connections.
	StateActive = "active"
	// StateDraining: programmed with backends that all drain (unhealthy
	// or terminating): new connections are refused, existing ones go on.
	StateDraining = "draining"
	// StateRejecting: its last backend went; new connections are refused
	// (TCP reset, ICMP port unreachable) until it is withdrawn.
	StateRejecting = "rejecting"
	// StateHeld: every backend vanished with its node's liveness; kept
	// as it was (fail open).
	StateHeld = "held"
)

// VIPInfo is one VIP in one family as this node programs it: the address,
// protocol and port, the DNS name of a named VIP and the backends.
type VIPInfo struct {
	// VIP is address:port ([v6]:port).
	VIP      string        `json:"vip"`
	Protocol string        `json:"protocol"`
	Port     uint16        `json:"port"`
	Name     string        `json:"name,omitempty"`
	Address  string        `json:"address"`
	State    string        `json:"state,omitempty"`
	Backends []BackendInfo `json:"backend"`
}

// BackendInfo is one backend of a VIPInfo.
type BackendInfo struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
	Node string `json:"node,omitempty"`
	// Active is false for a backend listed by the records but not
	// programmed (its node is not alive).
	Active bool `json:"active"`
	// Draining is true for a programmed backend that takes no new
	// connections (unhealthy, or its task is terminating).
	Draining bool `json:"draining,omitempty"`
}

// Refused is an IP VIP that dcnet-l4lb does not program because its
// address belongs to a named VIP: an address is held by the VIP that
// claimed it first, and named VIPs claim theirs in etcd (an IP VIP's
// address is never given to a name). The named VIP keeps its traffic and
// its name.
type Refused struct {
	// VIP is address:port of the refused IP VIP.
	VIP      string `json:"vip"`
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
	Address  string `json:"address"`
	// HeldBy is the DNS name of the named VIP that holds Address.
	HeldBy string `json:"heldBy"`
	// Since is when this node first refused it (RFC 3339).
	Since    string        `json:"since"`
	Backends []BackendInfo `json:"backend"`
}
