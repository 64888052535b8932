package portmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// Plugin-specific CNI error codes (the spec leaves 100 and up to plugins;
// dcnet's 100 is "subnet exhausted").
const (
	// CodePortConflict: another container holds a requested host port;
	// the message names the port and the holder.
	CodePortConflict uint = 101
)

// delegateTimeout bounds one run of the delegate plugin.
const delegateTimeout = 2 * time.Minute

// Plugin is the dcnet-portmap CNI plugin.
type Plugin struct {
	Kernel Kernel
	// Exec runs the delegate plugin (nil: the CNI library's default exec).
	Exec invoke.Exec
	// Stdout receives the ADD result.
	Stdout io.Writer
	// Stderr receives notes on repairs (CNI plugins print only their result
	// on stdout).
	Stderr io.Writer
	// Now is the clock of the records' creation time.
	Now func() time.Time
}

// New returns the plugin as the binary runs it.
func New() *Plugin {
	return &Plugin{Kernel: NewNFTables(), Stdout: os.Stdout, Stderr: os.Stderr, Now: time.Now}
}

// Funcs returns the plugin's commands for skel.PluginMainFuncs.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, GC: p.GC, Status: p.Status}
}

// owned is a Kernel whose tables belong to one state directory.
type owned interface{ SetOwner(stateDir string) }

// claim tells the kernel layer which state directory the command uses.
func (p *Plugin) claim(conf *Config) {
	if o, ok := p.Kernel.(owned); ok {
		o.SetOwner(conf.StateDir)
	}
}

// delegateArgs are the CNI_* variables the delegate gets: the plugin's own.
func delegateArgs(command string, args *skel.CmdArgs) *invoke.Args {
	return &invoke.Args{Command: command, ContainerID: args.ContainerID, NetNS: args.Netns,
		PluginArgsStr: args.Args, IfName: args.IfName, Path: args.Path}
}

// findDelegate looks the delegate up in CNI_PATH (code 4 when absent).
func (p *Plugin) findDelegate(conf *Config, args *skel.CmdArgs) (string, error) {
	exec := p.Exec
	if exec == nil {
		exec = &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: p.Stderr}}
	}
	bin, err := exec.FindInPath(conf.DelegateType, filepath.SplitList(args.Path))
	if err != nil {
		return "", types.NewError(types.ErrInvalidEnvironmentVariables,
			fmt.Sprintf("delegate plugin %q not found in CNI_PATH %q: install it there or fix delegate.type", conf.DelegateType, args.Path), "")
	}
	return bin, nil
}

// runDelegate runs the delegate with command; ADD returns its result.
func (p *Plugin) runDelegate(conf *Config, args *skel.CmdArgs, command string, stdin []byte) (*current.Result, error) {
	bin, err := p.findDelegate(conf, args)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), delegateTimeout)
	defer cancel()
	if stdin == nil {
		stdin = conf.Delegate
	}
	if command != "ADD" {
		return nil, delegateError(conf, command, invoke.ExecPluginWithoutResult(ctx, bin, stdin, delegateArgs(command, args), p.Exec))
	}
	r, err := invoke.ExecPluginWithResult(ctx, bin, stdin, delegateArgs(command, args), p.Exec)
	if err != nil {
		return nil, delegateError(conf, command, err)
	}
	res, err := current.NewResultFromResult(r)
	if err != nil {
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("delegate %s ADD: result: %v", conf.DelegateType, err), "")
	}
	return res, nil
}

// delegateError keeps the code of the delegate's CNI error and says that
// the delegate failed.
func delegateError(conf *Config, command string, err error) error {
	if err == nil {
		return nil
	}
	var e *types.Error
	if errors.As(err, &e) {
		return types.NewError(e.Code, fmt.Sprintf("delegate %s %s: %s", conf.DelegateType, command, e.Msg), e.Details)
	}
	return types.NewError(types.ErrInternal, fmt.Sprintf("delegate %s %s: %v", conf.DelegateType, command, err), "")
}

// containerIPs are the addresses of the container's interfaces in res
// (all of them when res names no interfaces).
func containerIPs(res *current.Result) []netip.Addr {
	var out []netip.Addr
	for _, ipc := range res.IPs {
		if ipc.Interface != nil && *ipc.Interface >= 0 && *ipc.Interface < len(res.Interfaces) &&
			res.Interfaces[*ipc.Interface].Sandbox == "" {
			continue // a host-side interface
		}
		if a, ok := netip.AddrFromSlice(ipc.Address.IP); ok {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// kernelError is a code 999 error naming the operation.
func kernelError(op string, err error) *types.Error {
	return types.NewError(types.ErrInternal, fmt.Sprintf("%s: nftables: %v", op, err), "")
}

// storeError: the state is locked for longer than lockTimeout (try again)
// or unusable.
func storeError(op string, err error) *types.Error {
	return types.NewError(types.ErrTryAgainLater, fmt.Sprintf("%s: %v", op, err), "")
}

func (p *Plugin) note(format string, a ...any) {
	if p.Stderr != nil {
		fmt.Fprintf(p.Stderr, "dcnet-portmap: "+format+"\n", a...)
	}
}

func (p *Plugin) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// withPrevResult adds prev, in version v, to the delegate config conf.
func withPrevResult(conf []byte, prev *current.Result, v string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(conf, &obj); err != nil {
		return nil, err
	}
	r, err := prev.GetAsVersion(v)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	obj["prevResult"] = b
	return json.Marshal(obj)
}
