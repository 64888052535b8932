package dcnet

import (
	"context"
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/dcnet/dcnet/plugins/lease"
	"github.com/dcnet/dcnet/plugins/netconf"
	"github.com/dcnet/dcnet/plugins/result"
	"github.com/dcnet/dcnet/plugins/veth"
)

// Check verifies that overlayd still holds the attachment, that prevResult
// (if any) agrees with it, and that the container interface carries exactly
// its addresses and default routes.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, err := netconf.Parse(args.StdinData)
	if err != nil {
		return err
	}
	id := conf.AttachmentID(args.ContainerID, args.IfName)
	op := "check " + id.String()
	att, err := lease.New(conf.Socket).Attachment(context.Background(), id)
	if err != nil {
		return err
	}
	ips, err := result.IPs(att, nil)
	if err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("%s: %v", op, err), "")
	}
	if conf.PrevResult != nil {
		if err := result.Match(conf.PrevResult, ips); err != nil {
			return types.NewError(types.ErrInternal, fmt.Sprintf("%s: %v", op, err), "")
		}
	}
	spec := veth.Spec{
		NetNS:    args.Netns,
		IfName:   args.IfName,
		HostName: HostVethName(args.ContainerID, args.IfName),
		MTU:      conf.MTU,
	}
	spec.Addrs, spec.Gateways = addrsAndGateways(ips)
	if err := p.Kernel.Verify(spec); err != nil {
		return kernelError(op, err)
	}
	return nil
}
