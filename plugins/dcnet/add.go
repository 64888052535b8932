package dcnet

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/lease"
	"github.com/dcnet/dcnet/plugins/netconf"
	"github.com/dcnet/dcnet/plugins/result"
	"github.com/dcnet/dcnet/plugins/veth"
)

// Result indexes of the interfaces.
const (
	hostIface = 0
	contIface = 1
)

// Add wires the container to the overlay and writes the CNI result.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, err := netconf.Parse(args.StdinData)
	if err != nil {
		return err
	}
	id := conf.AttachmentID(args.ContainerID, args.IfName)
	op := "add " + id.String()
	if args.Netns == "" {
		return types.NewError(types.ErrInvalidEnvironmentVariables, op+": CNI_NETNS is empty", "")
	}
	if err := p.Kernel.Probe(args.Netns, args.IfName); err != nil {
		return kernelError(op, err)
	}

	ctx := context.Background()
	leases := lease.New(conf.Socket)
	// The endpoint record appears only once the interface exists (as it
	// goes before the interface on DEL): no VIP sends a connection to an
	// address nothing answers yet.
	req := conf.AllocateRequest(id)
	req.Unpublished = true
	resp, err := leases.Allocate(ctx, req)
	if err != nil {
		return err
	}
	res, werr := p.wire(conf, args, resp)
	if werr == nil {
		if err := leases.Publish(ctx, id); err != nil {
			_ = p.Kernel.Teardown(args.Netns, args.IfName, HostVethName(args.ContainerID, args.IfName))
			werr = err.(*types.Error)
		}
	}
	if werr != nil {
		if rerr := leases.Release(ctx, id); rerr != nil {
			werr.Details = fmt.Sprintf("releasing the attachment after the failure failed too: %v", rerr)
		}
		return werr
	}
	return result.Write(p.Stdout, res, conf.CNIVersion)
}

// wire applies the plan and builds the result; on failure it removes what
// it created (the caller releases the attachment).
func (p *Plugin) wire(conf *netconf.Config, args *skel.CmdArgs, resp api.AllocateResponse) (*current.Result, *types.Error) {
	op := "add " + resp.Attachment.AttachmentID.String()
	spec, ips, err := plan(conf, args, resp)
	if err != nil {
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("%s: %v", op, err), "")
	}
	host, cont, err := p.Kernel.Setup(spec)
	if err != nil {
		return nil, kernelError(op, err)
	}
	res := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			hostIface: {Name: host.Name, Mac: host.MAC},
			contIface: {Name: cont.Name, Mac: cont.MAC, Sandbox: args.Netns},
		},
		IPs:    ips,
		Routes: result.DefaultRoutes(ips),
	}
	// Convert now so that a result the config's version cannot express
	// fails the ADD while it can still be undone.
	if _, err := res.GetAsVersion(conf.CNIVersion); err != nil {
		_ = p.Kernel.Teardown(args.Netns, args.IfName, spec.HostName)
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("%s: result for CNI %s: %v", op, conf.CNIVersion, err), "")
	}
	return res, nil
}

// plan decides the container's interface from the config and overlayd's
// answer; pure.
func plan(conf *netconf.Config, args *skel.CmdArgs, resp api.AllocateResponse) (veth.Spec, []*current.IPConfig, error) {
	ips, err := result.IPs(resp.Attachment, current.Int(contIface))
	if err != nil {
		return veth.Spec{}, nil, err
	}
	if resp.Network.Bridge == "" {
		return veth.Spec{}, nil, errors.New("overlayd named no bridge for the network")
	}
	mtu := conf.MTU
	if mtu == 0 {
		mtu = resp.Network.MTU
	}
	if mtu == 0 {
		mtu = DefaultMTU
	}
	spec := veth.Spec{
		NetNS:    args.Netns,
		IfName:   args.IfName,
		HostName: HostVethName(args.ContainerID, args.IfName),
		Bridge:   resp.Network.Bridge,
		MTU:      mtu,
		Hairpin:  conf.HairpinMode,
	}
	spec.Addrs, spec.Gateways = addrsAndGateways(ips)
	return spec, ips, nil
}

// addrsAndGateways splits result IPs into interface addresses and the
// gateways of the default routes (one per family).
func addrsAndGateways(ips []*current.IPConfig) ([]*net.IPNet, []net.IP) {
	addrs := make([]*net.IPNet, 0, len(ips))
	for _, c := range ips {
		a := c.Address
		addrs = append(addrs, &a)
	}
	var gws []net.IP
	for _, r := range result.DefaultRoutes(ips) {
		gws = append(gws, r.GW)
	}
	return addrs, gws
}
