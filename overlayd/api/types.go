// Package api defines overlayd's local API: the JSON types exchanged over the
// unix socket (/run/dcnet/overlayd.sock), the HTTP routes, and a client used
// by the CNI plugins, the Docker driver and dcnetctl. It is a leaf: the
// records in the cluster store are package cluster's, the stored
// attachments package ipam's; overlayd converts between them.
package api

import "time"

// DefaultSocket is where overlayd listens unless told otherwise.
const DefaultSocket = "/run/dcnet/overlayd.sock"

// Routes of the local API (JSON over HTTP on the unix socket).
const (
	PathStatus      = "/v1/status"       // GET  -> Status
	PathAllocate    = "/v1/allocate"     // POST AllocateRequest -> AllocateResponse
	PathRelease     = "/v1/release"      // POST AttachmentID -> ReleaseResponse (idempotent)
	PathGC          = "/v1/gc"           // POST GCRequest -> GCResponse
	PathAttachment  = "/v1/attachment"   // GET ?network=&containerID=&ifName= -> Attachment (404 when absent)
	PathAttachments = "/v1/attachments"  // GET -> []Attachment (this node's leases)
	PathEndpoints   = "/v1/endpoints"    // GET -> []Endpoint (cluster-wide, from the store cache)
	PathNetworks    = "/v1/networks"     // GET -> []Network (this node's overlays and subnets)
	PathNodes       = "/v1/nodes"        // GET -> []Node (cluster-wide, from the store cache)
	PathPeers       = "/v1/peers"        // GET -> []Peer (what this node programs for the others)
	PathNodeRemove  = "/v1/nodes/remove" // POST NodeRemoveRequest -> NodeRemoveResponse
	PathUpdate      = "/v1/update"       // POST UpdateRequest -> Attachment (404 when absent)
	PathWithdraw    = "/v1/withdraw"     // POST AttachmentID -> WithdrawResponse (idempotent)
	PathPublish     = "/v1/publish"      // POST AttachmentID -> PublishResponse (idempotent)
)

// Runtimes that create attachments.
const (
	RuntimeCNI    = "cni"
	RuntimeDocker = "docker"
)

// AttachmentID names one interface of one container on one overlay network.
// Allocation is idempotent per AttachmentID.
type AttachmentID struct {
	Network     string `json:"network"`
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
}

// String renders the ID as network/containerID/ifName.
func (id AttachmentID) String() string {
	return id.Network + "/" + id.ContainerID + "/" + id.IfName
}

// PortMapping is a host port forwarded to a container port.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp", "udp" or "sctp"
	HostIP        string `json:"hostIP,omitempty"`
}

// IPConfig is one address of an attachment, in CIDR form with the node
// subnet's prefix length ("9.0.1.5/24"), and the gateway on the node bridge.
type IPConfig struct {
	Address string `json:"address"`
	Gateway string `json:"gateway"`
}

// AllocateRequest asks for the addresses of one attachment. Labels and port
// mappings are recorded in the endpoint record.
type AllocateRequest struct {
	AttachmentID
	// Config is the name of the CNI network configuration (or Docker
	// network) that made the attachment; GC is scoped to it. Empty means
	// the same as Network.
	Config       string            `json:"config,omitempty"`
	Runtime      string            `json:"runtime,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	PortMappings []PortMapping     `json:"portMappings,omitempty"`
	// Unpublished allocates without publishing the endpoint record (the
	// attachment is withdrawn) until PathPublish: a runtime that creates
	// the interface after the allocation publishes it once it exists, so
	// no VIP sends a connection to an address nothing answers yet.
	Unpublished bool `json:"unpublished,omitempty"`
}

// PublishResponse says whether the attachment exists (false is not an
// error: nothing to publish).
type PublishResponse struct {
	Published bool `json:"published"`
}

// Attachment is one allocated container interface, as stored by overlayd.
type Attachment struct {
	AttachmentID
	Config       string            `json:"config,omitempty"`
	IPs          []IPConfig        `json:"ips"`
	Runtime      string            `json:"runtime,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	PortMappings []PortMapping     `json:"portMappings,omitempty"`
	Created      time.Time         `json:"created"`
	// Withdrawn is set while the attachment is being removed: its endpoint
	// record is no longer published (see PathWithdraw).
	Withdrawn bool `json:"withdrawn,omitempty"`
}

// ConfigName is the configuration that owns the attachment (Network when
// Config is empty).
func (a Attachment) ConfigName() string {
	if a.Config != "" {
		return a.Config
	}
	return a.Network
}

// Network describes one overlay as configured on this node.
type Network struct {
	Name    string `json:"name"`
	Bridge  string `json:"bridge"`
	MTU     int    `json:"mtu"`
	Subnet  string `json:"subnet,omitempty"`  // overlay-wide IPv4 range, e.g. 9.0.0.0/8
	Subnet6 string `json:"subnet6,omitempty"` // overlay-wide IPv6 range
	// NodeSubnet and NodeSubnet6 are the ranges leased to this node.
	NodeSubnet  string `json:"nodeSubnet,omitempty"`
	NodeSubnet6 string `json:"nodeSubnet6,omitempty"`
	Gateway     string `json:"gateway,omitempty"`
	Gateway6    string `json:"gateway6,omitempty"`
}

// AllocateResponse is the attachment plus what the caller needs to wire it.
type AllocateResponse struct {
	Attachment Attachment `json:"attachment"`
	Network    Network    `json:"network"`
}

// ReleaseResponse says whether something was released (false when it was
// already gone, which is not an error).
type ReleaseResponse struct {
	Released bool `json:"released"`
}

// WithdrawResponse says what a withdraw did: the endpoint record of the
// attachment is deleted from the store (at Revision) and overlayd waited
// until every running dcnet-l4lb had programmed that deletion (Acked of
// them), or until its bound passed (Pending names the nodes still behind).
// Withdrawn is false for an unknown attachment, which is not an error.
type WithdrawResponse struct {
	Withdrawn bool          `json:"withdrawn"`
	Revision  int64         `json:"revision,omitempty"`
	Acked     int           `json:"acked"`
	Pending   []string      `json:"pending,omitempty"`
	Waited    time.Duration `json:"waited"`
}

// UpdateRequest replaces the labels and port mappings of an existing
// attachment and, when To is set, re-keys it to To (same network). It is
// idempotent: when the attachment is already under To, the labels are
// applied there. The Docker driver uses it to turn an address allocated
// before the endpoint existed into the endpoint's attachment.
type UpdateRequest struct {
	AttachmentID
	To           *AttachmentID     `json:"to,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	PortMappings []PortMapping     `json:"portMappings,omitempty"`
}

// GCRequest lists the attachments of Network made by configuration Config
// (default: Network) that are still alive; every other attachment of that
// network and configuration on this node is released.
type GCRequest struct {
	Network string         `json:"network"`
	Config  string         `json:"config,omitempty"`
	Valid   []AttachmentID `json:"valid"`
}

// GCResponse lists what GC released.
type GCResponse struct {
	Released []Attachment `json:"released"`
}

// Status is overlayd's health and identity.
type Status struct {
	Node        string    `json:"node"`
	UnderlayIP  string    `json:"underlayIP,omitempty"`
	Version     string    `json:"version"`
	Started     time.Time `json:"started"`
	Store       string    `json:"store"`   // "embedded" or the external endpoints
	StoreOK     bool      `json:"storeOK"` // last store operation succeeded
	StoreError  string    `json:"storeError,omitempty"`
	Networks    []Network `json:"networks"`
	Attachments int       `json:"attachments"`
	// PendingPublish counts endpoint records not yet written to the store.
	PendingPublish int      `json:"pendingPublish"`
	VTEP           VTEP     `json:"vtep"`
	Warnings       []string `json:"warnings,omitempty"`
	// StoreEndpoints are the etcd client URLs overlayd uses (the embedded
	// member's URL when Store is "embedded"), so that tools read the store
	// overlayd writes without being told where it is (dcnetctl doctor).
	StoreEndpoints []string `json:"storeEndpoints,omitempty"`
	// PeersUnknown is true while overlayd's view of the cluster's nodes
	// has not been filled from the store yet: /v1/peers is then empty and
	// the kernel's peer entries are left as they are.
	PeersUnknown bool `json:"peersUnknown,omitempty"`
}

// VTEP is this node's VxLAN endpoint.
type VTEP struct {
	Device string `json:"device"`
	VNI    int    `json:"vni"`
	Port   int    `json:"port"`
	IP     string `json:"ip,omitempty"`
	IP6    string `json:"ip6,omitempty"`
	MAC    string `json:"mac,omitempty"`
	MTU    int    `json:"mtu,omitempty"`
}

// Node is a node of the cluster as the store has it.
type Node struct {
	Name       string              `json:"name"`
	UnderlayIP string              `json:"underlayIP,omitempty"`
	VTEPIP     string              `json:"vtepIP,omitempty"`
	VTEPIP6    string              `json:"vtepIP6,omitempty"`
	VTEPMAC    string              `json:"vtepMAC,omitempty"`
	Subnets    map[string][]string `json:"subnets,omitempty"`
	Alive      bool                `json:"alive"`
	Updated    time.Time           `json:"updated"`
}

// Peer is what this node programs for another node: neighbour, FDB entry
// and routes on the VTEP device.
type Peer struct {
	Name       string   `json:"name"`
	UnderlayIP string   `json:"underlayIP"`
	VTEPIP     string   `json:"vtepIP"`
	VTEPIP6    string   `json:"vtepIP6,omitempty"`
	VTEPMAC    string   `json:"vtepMAC"`
	Subnets    []string `json:"subnets"`
}

// NodeRemoveRequest names the node to remove from the cluster.
type NodeRemoveRequest struct {
	Name string `json:"name"`
}

// NodeRemoveResponse counts the store keys removed.
type NodeRemoveResponse struct {
	Removed int `json:"removed"`
}

// Endpoint is one attachment of any node as PathEndpoints answers it: the
// cluster's endpoint record (cluster.Endpoint, same JSON) from overlayd's
// cache of the store.
type Endpoint struct {
	Attachment
	Node   string `json:"node"`
	NodeIP string `json:"nodeIP,omitempty"`
}

// Error codes carried in ErrorBody.Code.
const (
	CodeInvalid     = "invalid"     // the request is malformed or names an unknown network
	CodeExhausted   = "exhausted"   // the node subnet has no free address
	CodeNotFound    = "not_found"   // the attachment does not exist
	CodeUnavailable = "unavailable" // overlayd is not ready (no subnet lease yet)
	CodeInternal    = "internal"
)

// ErrorBody is the JSON body of every non-2xx answer.
type ErrorBody struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}
