// Package dcnetipam is the dcnet-ipam CNI plugin: IPAM only, backed by
// overlayd, for configs where another main plugin (the reference "bridge",
// or a delegate under Mesos' port-mapper) creates the interface. ADD
// allocates and answers the addresses (with gateways, without interface
// index) and the routes of the ipam section; DEL releases (idempotent; code
// 11 while overlayd is unreachable, so the runtime retries); CHECK verifies
// that overlayd holds the attachment and that prevResult agrees with it;
// STATUS and GC as in package dcnet. Labels and port mappings are read from
// the config's top level, where Mesos and CNI runtimes put them.
package dcnetipam

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/lease"
	"github.com/dcnet/dcnet/plugins/netconf"
	"github.com/dcnet/dcnet/plugins/result"
)

// Plugin is the dcnet-ipam CNI plugin.
type Plugin struct {
	// Stdout receives the ADD result.
	Stdout io.Writer
}

// New returns the plugin as the binary runs it.
func New() *Plugin { return &Plugin{Stdout: os.Stdout} }

// Funcs returns the plugin's commands for skel.PluginMainFuncs.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, GC: p.GC, Status: p.Status}
}

// Add allocates the attachment's addresses and writes them as the result.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, err := netconf.ParseIPAM(args.StdinData)
	if err != nil {
		return err
	}
	id := conf.AttachmentID(args.ContainerID, args.IfName)
	ctx := context.Background()
	leases := lease.New(conf.Socket)
	resp, err := leases.Allocate(ctx, conf.AllocateRequest(id))
	if err != nil {
		return err
	}
	res, err := build(resp.Attachment, conf)
	if err == nil {
		_, err = res.GetAsVersion(conf.CNIVersion)
	}
	if err != nil {
		e := types.NewError(types.ErrInternal, fmt.Sprintf("add %s: %v", id, err), "")
		if rerr := leases.Release(ctx, id); rerr != nil {
			e.Details = fmt.Sprintf("releasing the attachment after the failure failed too: %v", rerr)
		}
		return e
	}
	return result.Write(p.Stdout, res, conf.CNIVersion)
}

// build is the IPAM result of an attachment: addresses with gateways and
// the configured routes of the families that have an address.
func build(a api.Attachment, conf *netconf.Config) (*current.Result, error) {
	ips, err := result.IPs(a, nil)
	if err != nil {
		return nil, err
	}
	return &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		IPs:        ips,
		Routes:     result.RoutesFor(conf.Routes, ips),
	}, nil
}

// Del releases the attachment; releasing twice or without ADD succeeds.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, err := netconf.ParseIPAM(args.StdinData)
	if err != nil {
		return err
	}
	return lease.New(conf.Socket).Release(context.Background(), conf.AttachmentID(args.ContainerID, args.IfName))
}

// Check verifies that overlayd holds the attachment and that prevResult
// (if any) agrees with it.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, err := netconf.ParseIPAM(args.StdinData)
	if err != nil {
		return err
	}
	id := conf.AttachmentID(args.ContainerID, args.IfName)
	att, err := lease.New(conf.Socket).Attachment(context.Background(), id)
	if err != nil {
		return err
	}
	ips, err := result.IPs(att, nil)
	if err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("check %s: %v", id, err), "")
	}
	if conf.PrevResult != nil {
		if err := result.Match(conf.PrevResult, ips); err != nil {
			return types.NewError(types.ErrInternal, fmt.Sprintf("check %s: %v", id, err), "")
		}
	}
	return nil
}

// GC releases the network's attachments not in cni.dev/valid-attachments.
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, err := netconf.ParseIPAM(args.StdinData)
	if err != nil {
		return err
	}
	_, err = lease.New(conf.Socket).GC(context.Background(), conf.Network, conf.Name, conf.ValidAttachments)
	return err
}

// Status reports whether overlayd answers and serves the network (code 50
// when not).
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := netconf.ParseIPAM(args.StdinData)
	if err != nil {
		return err
	}
	return lease.New(conf.Socket).Status(context.Background(), conf.Network)
}
