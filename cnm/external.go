package cnm

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/dcnet/dcnet/overlayd/api"
)

// programExternal publishes the ports of `docker run -p HOST:CONTAINER`
// (libnetwork hands a remote driver the bindings here, after Join): the
// host ports go to dcnet-portmap, the same data plane and conflict check as
// the CNI runtimes', and into the endpoint record for dcnet-l4lb.
func (d *Driver) programExternal(ctx context.Context, req *externalRequest) (empty, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, found, err := d.state.Endpoint(req.EndpointID)
	if err != nil {
		return empty{}, err
	}
	if !found {
		return empty{}, fmt.Errorf("endpoint %.12s of network %.12s: %w", req.EndpointID, req.NetworkID, errNotFound)
	}
	pms, err := portMappings(req.Options[optPortMap])
	if err != nil {
		return empty{}, err
	}
	if len(pms) == 0 {
		pms = ep.PortMappings
	}
	if len(pms) == 0 {
		return empty{}, nil
	}
	if d.ports == nil {
		return empty{}, fmt.Errorf("endpoint %.12s publishes ports %v, but dcnet-cnm runs without dcnet-portmap (--portmap)", ep.ID, pms)
	}
	var addrs []netip.Addr
	for _, a := range ep.Addresses {
		if p, err := parseAddr(a); err == nil {
			addrs = append(addrs, p)
		}
	}
	if err := d.ports.Publish(ctx, ep.ID, ep.Sandbox, addrs, pms); err != nil {
		return empty{}, err
	}
	ep.PortMappings, ep.Published = pms, true
	if err := d.state.apply(put(bucketEndpoints, ep.ID, ep)); err != nil {
		_ = d.ports.Unpublish(ctx, ep.ID)
		return empty{}, err
	}
	for _, att := range ep.Attachments {
		if _, err := d.overlay.Update(ctx, api.UpdateRequest{AttachmentID: att, Labels: ep.Labels, PortMappings: pms}); err != nil {
			d.log.Warn("endpoint record keeps its old port mappings", "endpoint", ep.ID, "err", err)
		}
	}
	d.log.Info("host ports published", "endpoint", ep.ID, "ports", pms)
	return empty{}, nil
}

// revokeExternal removes the endpoint's host ports.
func (d *Driver) revokeExternal(ctx context.Context, req *externalRequest) (empty, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, found, err := d.state.Endpoint(req.EndpointID)
	if err != nil || !found || !ep.Published {
		return empty{}, err
	}
	if d.ports != nil {
		if err := d.ports.Unpublish(ctx, ep.ID); err != nil {
			return empty{}, err
		}
	}
	ep.Published = false
	return empty{}, d.state.apply(put(bucketEndpoints, ep.ID, ep))
}

// publishedBindings are the endpoint's host ports as libnetwork's
// PortBinding list (EndpointOperInfo's com.docker.network.portmap).
func publishedBindings(ep Endpoint) []portBinding {
	ip := ""
	for _, a := range ep.Addresses {
		if p, err := parseAddr(a); err == nil && p.Is4() {
			ip = p.String()
			break
		}
	}
	out := make([]portBinding, 0, len(ep.PortMappings))
	for _, pm := range ep.PortMappings {
		proto := map[string]int{"tcp": 6, "udp": 17}[pm.Protocol]
		out = append(out, portBinding{Proto: proto, IP: ip, Port: pm.ContainerPort, HostIP: "0.0.0.0", HostPort: pm.HostPort, HostPortEnd: pm.HostPort})
	}
	return out
}
