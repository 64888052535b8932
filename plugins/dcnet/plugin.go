package dcnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/lease"
	"github.com/dcnet/dcnet/plugins/netconf"
	"github.com/dcnet/dcnet/plugins/veth"
)

// Kernel does the plugin's kernel work; veth.Netlink is the real one.
// All methods are called from the host (node) netns.
type Kernel interface {
	// Probe checks that netns opens and has no interface ifName
	// (veth.ErrExists otherwise). It changes nothing.
	Probe(netns, ifName string) error
	// Setup creates and configures the veth pair of s; on failure it leaves
	// nothing it created behind.
	Setup(s veth.Spec) (host, cont veth.Link, err error)
	// Teardown removes ifName in netns (skipped when netns is empty or gone)
	// and the host end hostName (skipped when empty); safe to repeat.
	Teardown(netns, ifName, hostName string) error
	// Verify checks that the kernel matches s and names the first difference.
	Verify(s veth.Spec) error
}

var _ Kernel = veth.Netlink{}

// DefaultMTU is used when neither the config nor overlayd gives an MTU.
const DefaultMTU = 1420

// hostNameHashLen is how many bytes of the hash name the host end.
const hostNameHashLen = 4

// Plugin is the dcnet CNI plugin.
type Plugin struct {
	Kernel Kernel
	// Stdout receives the ADD result.
	Stdout io.Writer
}

// New returns the plugin as the binary runs it.
func New() *Plugin {
	return &Plugin{Kernel: veth.Netlink{}, Stdout: os.Stdout}
}

// Funcs returns the plugin's commands for skel.PluginMainFuncs.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, GC: p.GC, Status: p.Status}
}

// HostVethName is the host end's name for a container interface: "veth" and
// 8 hex digits of a SHA-256 of container ID and interface name, stable so that
// DEL finds it without state.
func HostVethName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifName))
	return "veth" + hex.EncodeToString(sum[:hostNameHashLen])
}

// Del withdraws the container's endpoint record, removes its interface
// and releases its attachment; see the package comment for why it
// succeeds when things are already gone and when it answers code 11.
//
// The record goes first: overlayd answers the withdraw once every node's
// dcnet-l4lb has stopped choosing the container for new VIP connections
// (or after its bound), so no connection is sent to an interface that is
// gone. A withdraw that fails (overlayd away) does not stop the removal:
// the release that follows reports it.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, err := netconf.Parse(args.StdinData)
	if err != nil {
		return err
	}
	id := conf.AttachmentID(args.ContainerID, args.IfName)
	leases := lease.New(conf.Socket)
	if err := leases.Withdraw(context.Background(), id); err != nil {
		fmt.Fprintf(os.Stderr, "dcnet: %v; removing the interface anyway\n", err)
	}
	if err := p.Kernel.Teardown(args.Netns, args.IfName, HostVethName(args.ContainerID, args.IfName)); err != nil {
		return kernelError("del "+id.String(), err)
	}
	return leases.Release(context.Background(), id)
}

// GC releases the network's attachments that the runtime does not list in
// cni.dev/valid-attachments, then deletes the host ends of the released CNI
// attachments that are still there (best effort: a container netns that
// still exists keeps its interface until the runtime removes it).
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, err := netconf.Parse(args.StdinData)
	if err != nil {
		return err
	}
	released, err := lease.New(conf.Socket).GC(context.Background(), conf.Network, conf.Name, conf.ValidAttachments)
	if err != nil {
		return err
	}
	for _, a := range released {
		if a.Runtime == api.RuntimeCNI || a.Runtime == "" {
			_ = p.Kernel.Teardown("", "", HostVethName(a.ContainerID, a.IfName))
		}
	}
	return nil
}

// Status reports whether overlayd answers and serves the network (code 50
// when not).
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := netconf.Parse(args.StdinData)
	if err != nil {
		return err
	}
	return lease.New(conf.Socket).Status(context.Background(), conf.Network)
}

// kernelError maps a Kernel failure to a CNI error: code 8 when the netns
// cannot be opened, 999 otherwise.
func kernelError(op string, err error) *types.Error {
	var notExist ns.NSPathNotExistErr
	var notNS ns.NSPathNotNSErr
	if errors.As(err, &notExist) || errors.As(err, &notNS) {
		return types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("%s: netns: %v", op, err), "")
	}
	return types.NewError(types.ErrInternal, fmt.Sprintf("%s: %v", op, err), "")
}
