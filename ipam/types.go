package ipam

import "time"

// The stored types of the attachments bucket. They are ipam's own, apart
// from overlayd's socket API (overlayd/api) and the cluster records
// (cluster.Endpoint): the on-disk format changes only with layoutVersion.
// Their JSON is that of layout 1 as written since the first release, so
// existing databases open unchanged (TestOpensLayout1).

// ID names one interface of one container on one network. Allocation is
// idempotent per ID.
type ID struct {
	Network     string `json:"network"`
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
}

// String renders the ID as network/containerID/ifName.
func (id ID) String() string {
	return id.Network + "/" + id.ContainerID + "/" + id.IfName
}

// IP is one address of an attachment in CIDR form with the node subnet's
// length ("9.0.1.5/24"), and the gateway on the node bridge.
type IP struct {
	Address string `json:"address"`
	Gateway string `json:"gateway"`
}

// PortMapping is a host port forwarded to a container port, as the runtime
// asked for it.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Request asks for the addresses of one attachment; the rest is kept with
// it.
type Request struct {
	ID
	// Config is the CNI configuration (or Docker network) that made the
	// attachment; GC is scoped to it. Empty means the same as Network.
	Config       string
	Runtime      string
	Labels       map[string]string
	PortMappings []PortMapping
	// Unpublished creates the attachment withdrawn (see
	// Attachment.Withdrawn): its record appears only with Publish, once
	// its interface exists.
	Unpublished bool
}

// Attachment is one allocated container interface, as stored.
type Attachment struct {
	ID
	Config       string            `json:"config,omitempty"`
	IPs          []IP              `json:"ips"`
	Runtime      string            `json:"runtime,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	PortMappings []PortMapping     `json:"portMappings,omitempty"`
	Created      time.Time         `json:"created"`
	// Withdrawn is set when the attachment is being removed: its endpoint
	// record is no longer published (VIPs stop choosing it) while the
	// interface still exists, until Release. Allocating the same ID again
	// clears it.
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
