// Package l4lbapi is dcnet-l4lb's HTTP contract: its default address, its
// paths and headers, and the JSON it answers. dcnet-l4lb serves it; dcnet-dns
// (the VIP gate and the /v1/vips proxy) and dcnetctl read it. It imports no
// daemon, so a client links nothing of dcnet-l4lb.
package l4lbapi

// DefaultAddr is where dcnet-l4lb's HTTP API listens on a node.
const DefaultAddr = "127.0.0.1:62083"

// Paths of the HTTP API.
const (
	// PathVIPs answers []VIPInfo: the VIPs of the last successful sync.
	PathVIPs = "/v1/vips"
	// PathProgrammed + <ip> answers 204 when ip is the address of a VIP
	// in the kernel, 404 with HeaderProgrammed "no" when not, 503 before
	// the first successful sync, 400 for a malformed address: dcnet-dns
	// asks it before answering a VIP name.
	PathProgrammed = "/v1/programmed/"
	// PathMetrics serves the Prometheus metrics.
	PathMetrics = "/metrics"
)

// HeaderProgrammed is set to "no" on PathProgrammed's 404 answers, which
// tells a real "not programmed" from the 404 of a server without the route
// (an older dcnet-l4lb).
const HeaderProgrammed = "X-Dcnet-Programmed"

// VIPInfo is one VIP of /v1/vips: dcos-net's vip, protocol and backend,
// plus the port, DNS name and address.
type VIPInfo struct {
	VIP      string        `json:"vip"`
	Protocol string        `json:"protocol"`
	Port     uint16        `json:"port"`
	Name     string        `json:"name,omitempty"`
	Address  string        `json:"address"`
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
