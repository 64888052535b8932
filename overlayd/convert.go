package overlayd

import (
	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/ipam"
	"github.com/dcnet/dcnet/overlayd/api"
)

// overlayd speaks three formats of an attachment: the socket API's
// (overlayd/api), ipam's stored one and the cluster's endpoint record.
// They convert here and nowhere else, so each can change on its own.

func ipamID(id api.AttachmentID) ipam.ID {
	return ipam.ID{Network: id.Network, ContainerID: id.ContainerID, IfName: id.IfName}
}

func ipamIDs(ids []api.AttachmentID) []ipam.ID {
	out := make([]ipam.ID, len(ids))
	for i, id := range ids {
		out[i] = ipamID(id)
	}
	return out
}

func ipamPortMappings(pms []api.PortMapping) []ipam.PortMapping {
	if pms == nil {
		return nil
	}
	out := make([]ipam.PortMapping, len(pms))
	for i, pm := range pms {
		out[i] = ipam.PortMapping{HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: pm.Protocol, HostIP: pm.HostIP}
	}
	return out
}

func ipamRequest(r api.AllocateRequest) ipam.Request {
	return ipam.Request{ID: ipamID(r.AttachmentID), Config: r.Config, Runtime: r.Runtime, Labels: r.Labels, Unpublished: r.Unpublished,
		PortMappings: ipamPortMappings(r.PortMappings)}
}

// apiAttachment is a stored attachment as the socket API answers it.
func apiAttachment(a ipam.Attachment) api.Attachment {
	out := api.Attachment{
		AttachmentID: api.AttachmentID{Network: a.Network, ContainerID: a.ContainerID, IfName: a.IfName},
		Config:       a.Config, Runtime: a.Runtime, Labels: a.Labels, Created: a.Created, Withdrawn: a.Withdrawn,
		IPs: make([]api.IPConfig, len(a.IPs)),
	}
	for i, ip := range a.IPs {
		out.IPs[i] = api.IPConfig{Address: ip.Address, Gateway: ip.Gateway}
	}
	if a.PortMappings != nil {
		out.PortMappings = make([]api.PortMapping, len(a.PortMappings))
		for i, pm := range a.PortMappings {
			out.PortMappings[i] = api.PortMapping{HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: pm.Protocol, HostIP: pm.HostIP}
		}
	}
	return out
}

func apiAttachments(as []ipam.Attachment) []api.Attachment {
	out := make([]api.Attachment, len(as))
	for i, a := range as {
		out[i] = apiAttachment(a)
	}
	return out
}

// endpointRecord is a stored attachment as this node publishes it.
func endpointRecord(a ipam.Attachment, node, nodeIP string) cluster.Endpoint {
	out := cluster.Endpoint{
		Network: a.Network, ContainerID: a.ContainerID, IfName: a.IfName,
		Config: a.Config, Runtime: a.Runtime, Labels: a.Labels, Created: a.Created,
		IPs:  make([]cluster.EndpointIP, len(a.IPs)),
		Node: node, NodeIP: nodeIP,
	}
	for i, ip := range a.IPs {
		out.IPs[i] = cluster.EndpointIP{Address: ip.Address, Gateway: ip.Gateway}
	}
	if a.PortMappings != nil {
		out.PortMappings = make([]cluster.PortMapping, len(a.PortMappings))
		for i, pm := range a.PortMappings {
			out.PortMappings[i] = cluster.PortMapping{HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: pm.Protocol, HostIP: pm.HostIP}
		}
	}
	return out
}
