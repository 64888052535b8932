package netconf

import "github.com/dcnet/dcnet/overlayd/api"

// AttachmentID is the attachment a runtime call names: this config's
// overlay network, the container and its interface.
func (c *Config) AttachmentID(containerID, ifName string) api.AttachmentID {
	return api.AttachmentID{Network: c.Network, ContainerID: containerID, IfName: ifName}
}

// AllocateRequest asks overlayd for attachment id on behalf of this config:
// owned by the config (so CNI GC stays within it), with its labels and port
// mappings for the endpoint record.
func (c *Config) AllocateRequest(id api.AttachmentID) api.AllocateRequest {
	return api.AllocateRequest{AttachmentID: id, Config: c.Name, Runtime: api.RuntimeCNI,
		Labels: c.Labels, PortMappings: c.PortMappings}
}
