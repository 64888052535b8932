package vipaccess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

// Kernel does the plugin's kernel work; Netlink is the real one. All
// methods are called from the node netns.
type Kernel interface {
	// Setup creates and configures the link; on failure it leaves
	// nothing it created behind.
	Setup(l Link) error
	// Teardown removes the container end ifName in netns (skipped when
	// netns is empty or gone) and the node end host; safe to repeat.
	Teardown(netns, ifName, host string) error
	// Verify checks that both ends of the link exist.
	Verify(netns, ifName, host string) error
}

// Plugin is the dcnet-vipaccess CNI plugin.
type Plugin struct {
	Kernel Kernel
	// Exec runs the delegate and host-local (nil: the binaries on
	// CNI_PATH, as runtimes run plugins).
	Exec invoke.Exec
	// Stdout receives the ADD result.
	Stdout io.Writer
}

// New returns the plugin as the binary runs it.
func New() *Plugin { return &Plugin{Kernel: Netlink{}, Stdout: os.Stdout} }

// Funcs returns the plugin's commands for skel.PluginMainFuncs.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, GC: p.GC, Status: p.Status}
}

// Add runs the network's plugin (delegate, or the prevResult of a chain),
// then adds the link; the answer is the network's result.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	ctx := context.Background()
	res, err := p.network(ctx, conf)
	if err != nil {
		return err
	}
	undo := func() {
		if conf.Delegate != nil {
			if dconf, dtype, err := conf.delegateConf(); err == nil {
				_ = invoke.DelegateDel(ctx, dtype, dconf, p.Exec)
			}
		}
	}
	ipamRes, err := invoke.DelegateAdd(ctx, "host-local", conf.ipamConf(), p.Exec)
	if err != nil {
		undo()
		return fmt.Errorf("dcnet-vipaccess: address of the %s link from host-local: %w", conf.Interface, err)
	}
	addr4, err := poolAddress(ipamRes)
	if err == nil {
		err = p.Kernel.Setup(Plan(conf, args.Netns, args.ContainerID, addr4))
	}
	if err != nil {
		_ = invoke.DelegateDel(ctx, "host-local", conf.ipamConf(), p.Exec)
		undo()
		return types.NewError(types.ErrInternal, fmt.Sprintf("dcnet-vipaccess: link %s of container %s: %v", conf.Interface, args.ContainerID, err), "")
	}
	out, err := res.GetAsVersion(conf.CNIVersion)
	if err != nil {
		return fmt.Errorf("dcnet-vipaccess: result in version %s: %w", conf.CNIVersion, err)
	}
	return out.PrintTo(p.Stdout)
}

// network is the network's result: the delegate's ADD, or the prevResult.
func (p *Plugin) network(ctx context.Context, conf *Config) (types.Result, error) {
	if conf.Delegate != nil {
		dconf, dtype, err := conf.delegateConf()
		if err != nil {
			return nil, invalid("delegate: %v", err)
		}
		res, err := invoke.DelegateAdd(ctx, dtype, dconf, p.Exec)
		if err != nil {
			return nil, fmt.Errorf("dcnet-vipaccess: delegate %s: %w", dtype, err)
		}
		return res, nil
	}
	if conf.RawPrevResult == nil {
		return nil, invalid("no delegate and no prevResult: put a \"delegate\" in the config or chain dcnet-vipaccess after the network's plugin")
	}
	if err := version.ParsePrevResult(&conf.NetConf); err != nil {
		return nil, invalid("prevResult: %v", err)
	}
	return conf.PrevResult, nil
}

// poolAddress is the IPv4 address host-local handed out.
func poolAddress(r types.Result) (netip.Addr, error) {
	res, err := current.NewResultFromResult(r)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ip := range res.IPs {
		if a, ok := netip.AddrFromSlice(ip.Address.IP); ok && a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, errors.New("host-local gave no IPv4 address")
}

// Del removes the link and its address, then runs the delegate's DEL. It
// succeeds when things are already gone.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := p.Kernel.Teardown(args.Netns, conf.Interface, HostName(args.ContainerID, conf.Interface)); err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("dcnet-vipaccess: remove link %s: %v", conf.Interface, err), "")
	}
	if err := invoke.DelegateDel(ctx, "host-local", conf.ipamConf(), p.Exec); err != nil {
		return fmt.Errorf("dcnet-vipaccess: release the link's address: %w", err)
	}
	if conf.Delegate != nil {
		dconf, dtype, err := conf.delegateConf()
		if err != nil {
			return invalid("delegate: %v", err)
		}
		if err := invoke.DelegateDel(ctx, dtype, dconf, p.Exec); err != nil {
			return fmt.Errorf("dcnet-vipaccess: delegate %s: %w", dtype, err)
		}
	}
	return nil
}

// Check verifies the link, then the delegate.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	if err := p.Kernel.Verify(args.Netns, conf.Interface, HostName(args.ContainerID, conf.Interface)); err != nil {
		return types.NewError(types.ErrInternal, "dcnet-vipaccess: "+err.Error(), "")
	}
	if conf.Delegate != nil {
		dconf, dtype, err := conf.delegateConf()
		if err != nil {
			return invalid("delegate: %v", err)
		}
		return invoke.DelegateCheck(context.Background(), dtype, dconf, p.Exec)
	}
	return nil
}

// GC passes to the delegate (the link goes with its container's DEL).
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil || conf.Delegate == nil {
		return err
	}
	dconf, dtype, err := conf.delegateConf()
	if err != nil {
		return invalid("delegate: %v", err)
	}
	return invoke.DelegateGC(context.Background(), dtype, dconf, p.Exec)
}

// Status passes to the delegate.
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil || conf.Delegate == nil {
		return err
	}
	dconf, dtype, err := conf.delegateConf()
	if err != nil {
		return invalid("delegate: %v", err)
	}
	return invoke.DelegateStatus(context.Background(), dtype, dconf, p.Exec)
}
