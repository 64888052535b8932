package cnm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
)

func (d *Driver) capabilities(context.Context, *empty) (capabilitiesResponse, error) {
	return capabilitiesResponse{Scope: "local", ConnectivityScope: "local"}, nil
}

func noop[T any](context.Context, *T) (empty, error) { return empty{}, nil }

// createNetwork validates the options and pools and records the network.
func (d *Driver) createNetwork(ctx context.Context, req *createNetworkRequest) (empty, error) {
	if req.NetworkID == "" {
		return empty{}, fmt.Errorf("NetworkID is empty")
	}
	opts, err := ParseNetworkOptions(req.Options)
	if err != nil {
		return empty{}, err
	}
	n, err := d.overlayInfo(ctx, opts.Overlay)
	if err != nil {
		return empty{}, err
	}
	if len(req.IPv4Data) == 0 && len(req.IPv6Data) == 0 {
		return empty{}, fmt.Errorf("network has no address pool: create it with --ipam-driver dcnet")
	}
	var pools []string
	for _, fam := range []struct {
		data []ipamData
		v6   bool
	}{{req.IPv4Data, false}, {req.IPv6Data, true}} {
		for _, data := range fam.data {
			if !fam.v6 && data.Pool == noIPv4Pool {
				continue // the placeholder of an IPv6-only overlay
			}
			if err := checkPool(n, data, fam.v6, opts.Overlay); err != nil {
				return empty{}, err
			}
			pools = append(pools, data.Pool)
		}
	}
	if len(pools) == 0 {
		return empty{}, fmt.Errorf("network has only a placeholder IPv4 pool: overlay %s is IPv6-only, pass --ipv6 --subnet %s", opts.Overlay, orNone(n.NodeSubnet6))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	nets, err := d.state.Networks()
	if err != nil {
		return empty{}, err
	}
	for _, other := range nets {
		if other.ID != req.NetworkID && other.Overlay == opts.Overlay {
			return empty{}, fmt.Errorf("pool %s of overlay %s is already used by Docker network %.12s: one Docker network per overlay; "+
				"remove that network first (if `docker network ls` no longer lists it, run dcnet-cnm --forget-network %s)",
				strings.Join(other.Pools, ", "), opts.Overlay, other.ID, other.ID)
		}
	}
	rec := Network{ID: req.NetworkID, Overlay: opts.Overlay, Labels: opts.Labels, Pools: pools, Created: d.now().UTC()}
	if err := d.state.apply(put(bucketNetworks, rec.ID, rec)); err != nil {
		return empty{}, err
	}
	d.log.Info("network created", "network", rec.ID, "overlay", rec.Overlay, "pools", pools)
	return empty{}, nil
}

// checkPool checks that a pool dockerd passes is the overlay's node subnet.
func checkPool(n api.Network, data ipamData, v6 bool, overlay string) error {
	subnet, gw := subnetOf(n, v6)
	if data.Pool != subnet {
		return fmt.Errorf("pool %s is not the node subnet of overlay %s (%s): create the network with --ipam-driver dcnet --ipam-opt %s=%s and no other --subnet",
			data.Pool, overlay, orNone(subnet), OptOverlay, overlay)
	}
	if data.Gateway != "" {
		if a, err := parseAddr(data.Gateway); err != nil || a.String() != gw {
			return fmt.Errorf("gateway %s: the gateway of overlay %s on this node is %s: omit --gateway", data.Gateway, overlay, gw)
		}
	}
	if len(data.AuxAddresses) > 0 {
		return fmt.Errorf("--aux-address is not supported by dcnet")
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (d *Driver) deleteNetwork(_ context.Context, req *networkRequest) (empty, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	found, err := d.state.ForgetNetwork(req.NetworkID)
	if found {
		d.log.Info("network deleted", "network", req.NetworkID)
	}
	return empty{}, err
}

// network returns the network of a request, adopting one the driver never
// saw (dockerd replays nothing after a restart) from the overlay that holds
// addr. Call with d.mu held.
func (d *Driver) network(ctx context.Context, id, addr string) (Network, error) {
	n, found, err := d.state.Network(id)
	if err != nil || found {
		return n, err
	}
	if addr == "" {
		return Network{}, fmt.Errorf("network %.12s is unknown to dcnet-cnm and the request names no address", id)
	}
	ov, err := d.overlayOf(ctx, addr)
	if err != nil {
		return Network{}, fmt.Errorf("network %.12s is unknown to dcnet-cnm: %w", id, err)
	}
	n = Network{ID: id, Overlay: ov.Name, Pools: slices.DeleteFunc([]string{ov.NodeSubnet, ov.NodeSubnet6}, func(s string) bool { return s == "" }),
		Adopted: true, Created: d.now().UTC()}
	if err := d.state.apply(put(bucketNetworks, id, n)); err != nil {
		return Network{}, err
	}
	d.log.Info("network adopted", "network", id, "overlay", ov.Name)
	return n, nil
}

// createEndpoint claims the endpoint's addresses: their provisional
// attachments are re-keyed to the endpoint and get its labels.
func (d *Driver) createEndpoint(ctx context.Context, req *createEndpointRequest) (createEndpointResponse, error) {
	if req.EndpointID == "" || req.Interface == nil || (req.Interface.Address == "" && req.Interface.AddressIPv6 == "") {
		return createEndpointResponse{}, fmt.Errorf("endpoint %.12s has no address: the network must use --ipam-driver dcnet", req.EndpointID)
	}
	opts, err := ParseEndpointOptions(req.Options)
	if err != nil {
		return createEndpointResponse{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, found, err := d.state.Endpoint(req.EndpointID); err != nil || found {
		return createEndpointResponse{}, err // a retry
	}
	addrs := slices.DeleteFunc([]string{req.Interface.Address, req.Interface.AddressIPv6}, func(s string) bool { return s == "" || isNoIPv4Addr(s) })
	if len(addrs) == 0 {
		return createEndpointResponse{}, fmt.Errorf("endpoint %.12s has only a placeholder IPv4 address: the network needs an IPv6 pool (--ipv6 --subnet)", req.EndpointID)
	}
	n, err := d.network(ctx, req.NetworkID, addrs[0])
	if err != nil {
		return createEndpointResponse{}, err
	}
	labels := maps.Clone(n.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, opts.Labels)
	ep := Endpoint{ID: req.EndpointID, NetworkID: n.ID, Overlay: n.Overlay, Addresses: addrs, MAC: req.Interface.MacAddress,
		Labels: labels, PortMappings: opts.PortMappings}
	changes, err := d.claim(ctx, &ep)
	if err != nil {
		return createEndpointResponse{}, err
	}
	if len(ep.Labels) == 0 {
		ep.Labels = nil
	}
	if err := d.state.apply(append(changes, put(bucketEndpoints, ep.ID, ep))...); err != nil {
		return createEndpointResponse{}, err
	}
	d.log.Info("endpoint created", "endpoint", ep.ID, "network", n.ID, "addresses", addrs, "labels", ep.Labels)
	return createEndpointResponse{}, nil
}

// claim re-keys the attachments of ep's addresses to the endpoint (one
// attachment per distinct provisional one) and returns the state changes.
func (d *Driver) claim(ctx context.Context, ep *Endpoint) ([]change, error) {
	moved := map[api.AttachmentID]api.AttachmentID{}
	var changes []change
	for _, addr := range ep.Addresses {
		a, _ := parseAddr(addr)
		rec, found, err := d.findAddress(ep.Overlay, addr, a.Is6())
		if err != nil {
			return nil, err
		}
		if !found {
			if rec, err = d.adoptAddress(ctx, ep.Overlay, addr); err != nil {
				return nil, err
			}
		}
		to, done := moved[rec.Attachment]
		if !done {
			to = api.AttachmentID{Network: ep.Overlay, ContainerID: ep.ID, IfName: attachIfName}
			if len(moved) > 0 {
				to.IfName = fmt.Sprintf("%s-%d", attachIfName, len(moved))
			}
			if rec.Name != "" && ep.Labels[LabelTask] == "" {
				ep.Labels[LabelTask] = strings.TrimPrefix(rec.Name, "/")
			}
			_, err := d.overlay.Update(ctx, api.UpdateRequest{AttachmentID: rec.Attachment, To: &to, Labels: ep.Labels, PortMappings: ep.PortMappings})
			if err != nil {
				return nil, fmt.Errorf("claim address %s for endpoint %.12s: %w", addr, ep.ID, err)
			}
			moved[rec.Attachment] = to
			ep.Attachments = append(ep.Attachments, to)
		}
		old := rec
		rec.Attachment, rec.Endpoint, rec.Since = to, ep.ID, d.now().UTC()
		changes = append(changes, del(bucketAddresses, addressKey(old.Overlay, old.Address)), put(bucketAddresses, addressKey(rec.Overlay, rec.Address), rec))
	}
	return changes, nil
}

// adoptAddress finds the attachment of an address the state does not know
// (a lost state) in overlayd's list.
func (d *Driver) adoptAddress(ctx context.Context, overlay, addr string) (Address, error) {
	a, err := parseAddr(addr)
	if err != nil {
		return Address{}, err
	}
	atts, err := d.overlay.Attachments(ctx)
	if err != nil {
		return Address{}, fmt.Errorf("look up address %s in overlayd: %w", addr, err)
	}
	for _, att := range atts {
		for _, ip := range att.IPs {
			if b, err := parseAddr(ip.Address); err == nil && b == a && att.Network == overlay && att.Runtime == api.RuntimeDocker {
				return Address{Overlay: overlay, Address: addr, Attachment: att.AttachmentID, Since: d.now().UTC()}, nil
			}
		}
	}
	return Address{}, fmt.Errorf("address %s was not handed out by dcnet's IPAM: create the network with --ipam-driver dcnet", addr)
}

// deleteEndpoint removes the veth and the endpoint; its addresses stay
// allocated until dockerd's ReleaseAddress (or the sweep).
func (d *Driver) deleteEndpoint(ctx context.Context, req *endpointRequest) (empty, error) {
	d.withdraw(ctx, req.EndpointID)
	d.mu.Lock()
	defer d.mu.Unlock()
	host, _ := vethNames(req.EndpointID)
	if err := d.kernel.DelVeth(host); err != nil {
		return empty{}, err
	}
	ep, found, err := d.state.Endpoint(req.EndpointID)
	if err != nil || !found {
		return empty{}, err
	}
	if ep.Published && d.ports != nil {
		if err := d.ports.Unpublish(ctx, ep.ID); err != nil {
			return empty{}, err
		}
	}
	recs, err := d.state.Addresses()
	if err != nil {
		return empty{}, err
	}
	changes := []change{del(bucketEndpoints, ep.ID)}
	for _, r := range recs {
		if r.Endpoint == ep.ID {
			r.Endpoint, r.Since = "", d.now().UTC()
			changes = append(changes, put(bucketAddresses, addressKey(r.Overlay, r.Address), r))
		}
	}
	d.log.Info("endpoint deleted", "endpoint", ep.ID)
	return empty{}, d.state.apply(changes...)
}

func (d *Driver) endpointInfo(_ context.Context, req *endpointRequest) (infoResponse, error) {
	ep, found, err := d.state.Endpoint(req.EndpointID)
	if err != nil || !found {
		return infoResponse{Value: map[string]any{}}, err
	}
	host, _ := vethNames(ep.ID)
	v := map[string]any{"overlay": ep.Overlay, "hostVeth": host, "addresses": strings.Join(ep.Addresses, ",")}
	if ep.Published {
		v[optPortMap] = publishedBindings(ep)
	}
	return infoResponse{Value: v}, nil
}

// join builds the veth pair on the overlay's bridge and tells dockerd to
// move the peer into the container as eth<n> with the bridge as gateway.
func (d *Driver) join(ctx context.Context, req *joinRequest) (joinResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, found, err := d.state.Endpoint(req.EndpointID)
	if err != nil {
		return joinResponse{}, err
	}
	if !found {
		return joinResponse{}, fmt.Errorf("endpoint %.12s of network %.12s: %w (CreateEndpoint never reached dcnet-cnm)", req.EndpointID, req.NetworkID, errNotFound)
	}
	n, err := d.overlayInfo(ctx, ep.Overlay)
	if err != nil {
		return joinResponse{}, err
	}
	host, peer := vethNames(ep.ID)
	if err := d.kernel.AddVeth(Veth{Host: host, Peer: peer, Bridge: n.Bridge, MTU: n.MTU, MAC: ep.MAC}); err != nil {
		return joinResponse{}, fmt.Errorf("join endpoint %.12s: %w", ep.ID, err)
	}
	// The records appear once the veth exists (RequestAddress allocated
	// them unpublished; a Join after a Leave publishes them again).
	for _, id := range ep.Attachments {
		if _, err := d.overlay.Publish(ctx, id); err != nil {
			_ = d.kernel.DelVeth(host)
			return joinResponse{}, fmt.Errorf("join endpoint %.12s: publish attachment %s: %w", ep.ID, id, err)
		}
	}
	ep.Withdrawn = false
	resp := joinResponse{InterfaceName: interfaceName{SrcName: peer, DstPrefix: dstPrefix}, DisableGatewayService: true}
	for _, a := range ep.Addresses {
		if p, err := parseAddr(a); err == nil && p.Is6() {
			resp.GatewayIPv6 = n.Gateway6
		} else if err == nil {
			resp.Gateway = n.Gateway
		}
	}
	if resp.Gateway == "" && resp.GatewayIPv6 != "" {
		// dockerd sets an endpoint's gateways only when it has an IPv4
		// one (its "gateway endpoint"): an IPv6-only endpoint gets its
		// default route as a static route instead.
		resp.StaticRoutes = append(resp.StaticRoutes, staticRoute{Destination: "::/0", RouteType: routeNextHop, NextHop: n.Gateway6})
		resp.GatewayIPv6 = ""
	}
	ep.Joined, ep.Sandbox = true, req.SandboxKey
	if err := d.state.apply(put(bucketEndpoints, ep.ID, ep)); err != nil {
		_ = d.kernel.DelVeth(host)
		return joinResponse{}, err
	}
	d.log.Debug("endpoint joined", "endpoint", ep.ID, "veth", host, "bridge", n.Bridge, "sandbox", req.SandboxKey)
	return resp, nil
}

// leave withdraws the endpoint's records, then removes the veth pair
// (dockerd has moved the peer back, or it is gone with the sandbox).
func (d *Driver) leave(ctx context.Context, req *endpointRequest) (empty, error) {
	d.withdraw(ctx, req.EndpointID)
	d.mu.Lock()
	defer d.mu.Unlock()
	host, _ := vethNames(req.EndpointID)
	if err := d.kernel.DelVeth(host); err != nil {
		return empty{}, err
	}
	ep, found, err := d.state.Endpoint(req.EndpointID)
	if err != nil || !found || (!ep.Joined && ep.Withdrawn) {
		return empty{}, err
	}
	ep.Joined, ep.Withdrawn = false, true
	return empty{}, d.state.apply(put(bucketEndpoints, ep.ID, ep))
}

// withdraw stops publishing the endpoint's records and waits (in
// overlayd, bounded) until every node's dcnet-l4lb has stopped choosing
// it, before its veth goes. It runs without the driver's lock, as it
// waits on the cluster; a failure is logged and the removal goes on.
func (d *Driver) withdraw(ctx context.Context, endpointID string) {
	d.mu.Lock()
	ep, found, err := d.state.Endpoint(endpointID)
	d.mu.Unlock()
	if err != nil || !found {
		return
	}
	for _, id := range ep.Attachments {
		r, err := d.overlay.Withdraw(ctx, id)
		if err != nil {
			d.log.Warn("withdraw endpoint record, removing the interface anyway", "endpoint", ep.ID, "attachment", id.String(), "err", err)
			continue
		}
		d.log.Debug("endpoint record withdrawn", "endpoint", ep.ID, "attachment", id.String(), "acked", r.Acked,
			"pending", r.Pending, "waited", r.Waited)
	}
}
