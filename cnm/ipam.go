package cnm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
)

// poolID names the pool of overlay's node subnet of one family:
// dcnet:<overlay>:4 or dcnet:<overlay>:6. It holds everything needed to
// serve the pool, so a pool dockerd kept across a lost state still works.
func poolID(overlay string, v6 bool) string {
	if v6 {
		return poolIDPrefix + overlay + ":6"
	}
	return poolIDPrefix + overlay + ":4"
}

// parsePoolID is the inverse of poolID.
func parsePoolID(id string) (overlay string, v6 bool, err error) {
	rest, ok := strings.CutPrefix(id, poolIDPrefix)
	i := strings.LastIndexByte(rest, ':')
	if !ok || i <= 0 || (rest[i+1:] != "4" && rest[i+1:] != "6") {
		return "", false, fmt.Errorf("pool %q was not made by dcnet (want %s<overlay>:4 or :6)", id, poolIDPrefix)
	}
	return rest[:i], rest[i+1:] == "6", nil
}

func (d *Driver) ipamCapabilities(context.Context, *empty) (ipamCapabilities, error) {
	// The MAC address makes dockerd name the endpoint in RequestAddress,
	// so an endpoint's IPv4 and IPv6 requests land on one attachment.
	return ipamCapabilities{RequiresMACAddress: true}, nil
}

func (d *Driver) addressSpaces(context.Context, *empty) (addressSpacesResponse, error) {
	return addressSpacesResponse{LocalDefaultAddressSpace: addressSpace, GlobalDefaultAddressSpace: addressSpace}, nil
}

// requestPool hands out the node subnet of an overlay; idempotent and
// reference-counted per pool.
func (d *Driver) requestPool(ctx context.Context, req *requestPoolRequest) (requestPoolResponse, error) {
	if req.SubPool != "" {
		return requestPoolResponse{}, fmt.Errorf("--ip-range %s: dcnet hands out the whole node subnet, drop --ip-range", req.SubPool)
	}
	overlay := ""
	for k, v := range req.Options {
		switch {
		case k == OptOverlay:
			if !overlayName.MatchString(v) {
				return requestPoolResponse{}, fmt.Errorf("ipam option %s=%q: want an overlay name such as dcos", k, v)
			}
			overlay = v
		case strings.HasPrefix(k, dockerPrefix):
		default:
			return requestPoolResponse{}, fmt.Errorf("unknown ipam option %q: dcnet knows %s", k, OptOverlay)
		}
	}
	n, err := d.choosePool(ctx, overlay, req.Pool, req.V6)
	if err != nil && !req.V6 && req.Pool == "" && overlay != "" && hasOverlay(ctx, d, overlay) {
		// An IPv6-only overlay: dockerd 20.10 asks for an IPv4 pool all
		// the same (see noipv4.go).
		d.log.Info("placeholder IPv4 pool for an IPv6-only overlay", "overlay", overlay)
		return requestPoolResponse{PoolID: noIPv4PoolID(overlay), Pool: noIPv4Pool, Data: map[string]string{dataGateway: noIPv4Gateway}}, nil
	}
	if err != nil {
		return requestPoolResponse{}, err
	}
	if req.Pool == "" {
		// dockerd checks a pool it did not ask for against the routes of
		// its netns, finds the node bridge's and asks again, forever.
		subnet, _ := subnetOf(n, req.V6)
		return requestPoolResponse{}, fmt.Errorf("pass --subnet %s (the node subnet of overlay %s; scripts/create-dcos-network.sh does): "+
			"dockerd rejects a pool that overlaps the node bridge's route unless it is given explicitly", subnet, n.Name)
	}
	subnet, gw := subnetOf(n, req.V6)
	id := poolID(n.Name, req.V6)
	d.mu.Lock()
	defer d.mu.Unlock()
	p, _, err := d.state.Pool(id)
	if err != nil {
		return requestPoolResponse{}, err
	}
	p.ID, p.Overlay, p.Subnet, p.V6 = id, n.Name, subnet, req.V6
	p.Refs++
	if err := d.state.apply(put(bucketPools, id, p)); err != nil {
		return requestPoolResponse{}, err
	}
	d.log.Info("pool requested", "pool", id, "subnet", subnet, "refs", p.Refs)
	return requestPoolResponse{PoolID: id, Pool: subnet, Data: map[string]string{dataGateway: withPrefix(gw, subnet)}}, nil
}

// choosePool picks the overlay for a pool request: the one named by
// --ipam-opt dcnet.overlay, else the one whose node subnet --subnet names,
// else the default (dcos; for IPv6 dcos when it is dual-stack, else dcos6).
func (d *Driver) choosePool(ctx context.Context, overlay, pool string, v6 bool) (api.Network, error) {
	nets, err := d.overlay.Networks(ctx)
	if err != nil {
		return api.Network{}, fmt.Errorf("ask overlayd for its overlays: %w", err)
	}
	family := "IPv4"
	if v6 {
		family = "IPv6"
	}
	var want netip.Prefix
	if pool != "" {
		if want, err = netip.ParsePrefix(pool); err != nil {
			return api.Network{}, fmt.Errorf("--subnet %q: not a CIDR", pool)
		}
		want = want.Masked()
	}
	var have []string
	for _, n := range nets {
		subnet, _ := subnetOf(n, v6)
		p, err := netip.ParsePrefix(subnet)
		if err != nil {
			continue
		}
		have = append(have, n.Name+" "+subnet)
		switch {
		case overlay != "" && n.Name != overlay:
		case pool == "":
			if overlay != "" || n.Name == DefaultOverlay || (v6 && n.Name == DefaultOverlay+"6" && !hasFamily(nets, DefaultOverlay, true)) {
				return n, nil
			}
		case p == want:
			return n, nil
		case p.Overlaps(want):
			return api.Network{}, fmt.Errorf("--subnet %s overlaps node subnet %s of overlay %s without being it: use --subnet %s or none", pool, subnet, n.Name, subnet)
		}
	}
	switch {
	case pool != "":
		return api.Network{}, fmt.Errorf("--subnet %s is no node subnet of this node (%s has %s): omit --subnet or use one of those", pool, family, strings.Join(have, ", "))
	case overlay != "":
		return api.Network{}, fmt.Errorf("overlay %q has no %s node subnet on this node (have %s)", overlay, family, strings.Join(have, ", "))
	}
	return api.Network{}, fmt.Errorf("no default overlay with an %s node subnet (have %s): pass --ipam-opt %s=NAME", family, strings.Join(have, ", "), OptOverlay)
}

// hasOverlay reports whether overlayd serves an overlay named name.
func hasOverlay(ctx context.Context, d *Driver, name string) bool {
	nets, err := d.overlay.Networks(ctx)
	return err == nil && slices.ContainsFunc(nets, func(n api.Network) bool { return n.Name == name })
}

func hasFamily(nets []api.Network, name string, v6 bool) bool {
	for _, n := range nets {
		if s, _ := subnetOf(n, v6); n.Name == name && s != "" {
			return true
		}
	}
	return false
}

func (d *Driver) releasePool(_ context.Context, req *releasePoolRequest) (empty, error) {
	if isNoIPv4Pool(req.PoolID) {
		return empty{}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, found, err := d.state.Pool(req.PoolID)
	if err != nil || !found {
		return empty{}, err
	}
	p.Refs--
	if p.Refs <= 0 {
		d.log.Info("pool released", "pool", p.ID)
		return empty{}, d.state.apply(del(bucketPools, p.ID))
	}
	return empty{}, d.state.apply(put(bucketPools, p.ID, p))
}

// requestAddress returns the gateway without allocating, or allocates an
// address from overlayd under a provisional attachment ID (see doc.go).
func (d *Driver) requestAddress(ctx context.Context, req *requestAddressRequest) (requestAddressResponse, error) {
	if isNoIPv4Pool(req.PoolID) {
		if req.Options[optAddressType] == addressGateway {
			return requestAddressResponse{Address: noIPv4Gateway}, nil
		}
		return requestAddressResponse{Address: noIPv4Address}, nil
	}
	overlay, v6, err := parsePoolID(req.PoolID)
	if err != nil {
		return requestAddressResponse{}, err
	}
	n, err := d.overlayInfo(ctx, overlay)
	if err != nil {
		return requestAddressResponse{}, err
	}
	subnet, gw := subnetOf(n, v6)
	if subnet == "" {
		return requestAddressResponse{}, fmt.Errorf("overlay %s has no node subnet for pool %s yet", overlay, req.PoolID)
	}
	if req.Options[optAddressType] == addressGateway {
		if req.Address != "" {
			if a, err := parseAddr(req.Address); err != nil || a.String() != gw {
				return requestAddressResponse{}, fmt.Errorf("--gateway %s: the gateway of overlay %s on this node is %s (node bridge %s): omit --gateway", req.Address, overlay, gw, n.Bridge)
			}
		}
		return requestAddressResponse{Address: withPrefix(gw, subnet)}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if req.Address != "" {
		return d.preferredAddress(overlay, subnet, req.Address)
	}
	id := provisionalID(overlay, req.Options[optMAC])
	// Unpublished: the record appears when Join has created the veth.
	resp, err := d.overlay.Allocate(ctx, api.AllocateRequest{AttachmentID: id, Config: ConfigName(overlay), Runtime: api.RuntimeDocker, Unpublished: true})
	if err != nil {
		return requestAddressResponse{}, fmt.Errorf("allocate an address on overlay %s: %w", overlay, err)
	}
	addr := ""
	for _, ip := range resp.Attachment.IPs {
		if a, err := parseAddr(ip.Address); err == nil && a.Is6() == v6 {
			addr = ip.Address
		}
	}
	if addr == "" {
		return requestAddressResponse{}, fmt.Errorf("overlayd gave attachment %s no address in %s", id, subnet)
	}
	rec := Address{Overlay: overlay, Address: addr, Attachment: resp.Attachment.AttachmentID, Name: req.Options[optEndpointName], Since: d.now().UTC()}
	if err := d.state.apply(put(bucketAddresses, addressKey(overlay, addr), rec)); err != nil {
		return requestAddressResponse{}, err
	}
	d.log.Debug("address requested", "address", addr, "attachment", resp.Attachment.AttachmentID.String())
	return requestAddressResponse{Address: addr}, nil
}

// preferredAddress answers a request for a fixed address: only an address
// this driver already handed out (a retry) can be had.
func (d *Driver) preferredAddress(overlay, subnet, addr string) (requestAddressResponse, error) {
	cidr := withPrefix(addr, subnet)
	if _, found, err := d.state.Address(overlay, cidr); err != nil || found {
		return requestAddressResponse{Address: cidr}, err
	}
	return requestAddressResponse{}, fmt.Errorf("address %s: dcnet assigns addresses itself and cannot reserve a fixed one: drop --ip/--ip6/--aux-address", addr)
}

// provisionalID is the attachment of an address requested before its
// endpoint exists: keyed by the endpoint's MAC address when dockerd sent it
// (so IPv4 and IPv6 requests of one endpoint share one attachment), else
// random.
func provisionalID(overlay, mac string) api.AttachmentID {
	key := ""
	if hw, err := net.ParseMAC(mac); err == nil && len(hw) == 6 {
		key = hex.EncodeToString(hw)
	} else {
		b := make([]byte, 8)
		rand.Read(b)
		key = "r" + hex.EncodeToString(b)
	}
	return api.AttachmentID{Network: overlay, ContainerID: provPrefix + key, IfName: attachIfName}
}

// releaseAddress releases the attachment that holds the address (with the
// other address of a dual-stack attachment); unknown addresses (the
// gateway, or a second release) are fine.
func (d *Driver) releaseAddress(ctx context.Context, req *releaseAddressRequest) (empty, error) {
	if isNoIPv4Pool(req.PoolID) {
		return empty{}, nil
	}
	overlay, v6, err := parsePoolID(req.PoolID)
	if err != nil {
		return empty{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, found, err := d.findAddress(overlay, req.Address, v6)
	if err != nil || !found {
		return empty{}, err
	}
	return empty{}, d.releaseAttachment(ctx, rec.Attachment)
}

// findAddress looks an address up whatever prefix length dockerd gives.
func (d *Driver) findAddress(overlay, addr string, v6 bool) (Address, bool, error) {
	if rec, found, err := d.state.Address(overlay, addr); err != nil || found {
		return rec, found, err
	}
	a, err := parseAddr(addr)
	if err != nil {
		return Address{}, false, err
	}
	recs, err := d.state.Addresses()
	if err != nil {
		return Address{}, false, err
	}
	for _, r := range recs {
		if b, err := parseAddr(r.Address); err == nil && r.Overlay == overlay && b == a && b.Is6() == v6 {
			return r, true, nil
		}
	}
	return Address{}, false, nil
}

// releaseAttachment releases id in overlayd and forgets its addresses.
// Call with d.mu held.
func (d *Driver) releaseAttachment(ctx context.Context, id api.AttachmentID) error {
	if _, err := d.overlay.Release(ctx, id); err != nil {
		return fmt.Errorf("release attachment %s: %w", id, err)
	}
	recs, err := d.state.Addresses()
	if err != nil {
		return err
	}
	var changes []change
	for _, r := range recs {
		if r.Attachment == id {
			changes = append(changes, del(bucketAddresses, addressKey(r.Overlay, r.Address)))
		}
	}
	d.log.Debug("address released", "attachment", id.String())
	return d.state.apply(changes...)
}
