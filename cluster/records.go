package cluster

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// The values stored under the prefixes of keys.go, as JSON. Field names
// and tags are the wire format of the store: renaming one breaks every
// node that has not been upgraded yet.

// Node is the value of a NodesPrefix key: a node's identity, VTEP and
// subnets.
type Node struct {
	Name       string `json:"name"`
	UnderlayIP string `json:"underlayIP,omitempty"`
	// Subnets maps overlay name to the node's subnets in it (IPv4 and/or
	// IPv6, CIDR).
	Subnets map[string][]string `json:"subnets,omitempty"`
	VTEPIP  string              `json:"vtepIP,omitempty"`
	VTEPIP6 string              `json:"vtepIP6,omitempty"`
	VTEPMAC string              `json:"vtepMAC,omitempty"`
	Updated time.Time           `json:"updated"`
}

// SubnetLease is the value of a SubnetsPrefix, VTEPsPrefix or VTEP6sPrefix
// key: who holds the block.
type SubnetLease struct {
	Node string `json:"node"`
	// Overlay is the overlay name, or "vtep" for a VTEP address.
	Overlay string    `json:"overlay"`
	Subnet  string    `json:"subnet"`
	Created time.Time `json:"created"`
}

// Alive is the value of an AlivePrefix key, held under the node's
// liveness lease: the key exists while the node's overlayd runs.
type Alive struct {
	Node       string    `json:"node"`
	UnderlayIP string    `json:"underlayIP,omitempty"`
	Since      time.Time `json:"since"`
}

// Endpoint is the value of an EndpointsPrefix key: one container
// interface on an overlay, with the labels and port mappings its runtime
// gave it. The attachment's node writes it; dcnet-l4lb, dcnet-dns and
// dcnet-l7lb read it.
type Endpoint struct {
	Network     string `json:"network"`
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
	// Config is the CNI configuration (or Docker network) that made it.
	Config       string            `json:"config,omitempty"`
	IPs          []EndpointIP      `json:"ips"`
	Runtime      string            `json:"runtime,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	PortMappings []PortMapping     `json:"portMappings,omitempty"`
	Created      time.Time         `json:"created"`
	Node         string            `json:"node"`
	NodeIP       string            `json:"nodeIP,omitempty"`
}

// ID names the endpoint's attachment: network/containerID/ifName.
func (e Endpoint) ID() string { return e.Network + "/" + e.ContainerID + "/" + e.IfName }

// EndpointIP is one address of an Endpoint in CIDR form with the node
// subnet's length ("9.0.1.5/24") and the gateway on the node bridge.
type EndpointIP struct {
	Address string `json:"address"`
	Gateway string `json:"gateway"`
}

// PortMapping is a host port forwarded to a container port.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp", "udp" or "sctp"
	HostIP        string `json:"hostIP,omitempty"`
}

// VIPName is the value of a VIPNamesPrefix key: a programmed named VIP's
// DNS name and its addresses.
type VIPName struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

// MesosBackends is the value of a MesosBackendsPrefix key: one Mesos
// task's VIP backends as the node's dcnet-l4lb read them from its agent.
type MesosBackends struct {
	Task     string         `json:"task"`
	Backends []MesosBackend `json:"backends"`
}

// MesosBackend is one VIP backend of a MesosBackends record.
type MesosBackend struct {
	Protocol  string     `json:"protocol"`
	Name      string     `json:"name,omitempty"`
	Framework string     `json:"framework,omitempty"`
	VIP       netip.Addr `json:"vip,omitzero"`
	VIPPort   uint16     `json:"vipPort"`
	IP        netip.Addr `json:"ip"`
	Port      uint16     `json:"port"`
	NodeIP    netip.Addr `json:"nodeIP,omitzero"`
	Healthy   bool       `json:"healthy"`
	Draining  bool       `json:"draining,omitempty"`
	// Local is the task's own address and container port when IP:Port is
	// a host port of its node: the node that published the record reaches
	// the task there (a VIP translated to a host port of the node itself
	// would never be translated again by the port mapping).
	Local netip.AddrPort `json:"local,omitzero"`
}

// L4LBApplied is the value of an L4LBAppliedPrefix key: the node's
// dcnet-l4lb has programmed its kernel from a view of the endpoint records
// at store revision Revision or later. overlayd waits for every node's to
// pass the revision that withdrew an endpoint before the interface goes.
type L4LBApplied struct {
	Node     string    `json:"node"`
	Revision int64     `json:"revision"`
	Updated  time.Time `json:"updated"`
}

// TaskAddrs is the value of a TaskNamesPrefix key: the name's addresses,
// IPv4 first, each family sorted (["9.0.1.2","fd01:b::2"]).
type TaskAddrs []netip.Addr

// NodeState is a node with its liveness: its record and whether its
// AlivePrefix key exists. overlayd serves it from its caches and
// dcnet-dns from a read of the store; both join them with WithLiveness.
type NodeState struct {
	Node
	Alive bool `json:"alive"`
}

// DecodeNode decodes a NodesPrefix key; ok is false when the value is not
// a Node with a name.
func DecodeNode(kv KV) (n Node, ok bool) {
	return n, json.Unmarshal(kv.Value, &n) == nil && n.Name != ""
}

// WithLiveness joins node records with the liveness keys read under
// AlivePrefix, sorted by name.
func WithLiveness(nodes []Node, alive []KV) []NodeState {
	live := make(map[string]bool, len(alive))
	for _, kv := range alive {
		live[strings.TrimPrefix(kv.Key, AlivePrefix)] = true
	}
	out := make([]NodeState, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, NodeState{Node: n, Alive: live[n.Name]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
