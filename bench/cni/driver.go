package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Invocation constants.
const (
	ifName = "eth0"
	// callTimeout bounds one plugin invocation.
	callTimeout = 60 * time.Second
	// shell prints the network namespace a child of the driver lands in.
	shell       = "/bin/sh"
	whereScript = "exec readlink /proc/self/ns/net\n"
)

// plugin is one CNI plugin as the bench runs it.
type plugin struct {
	Name    string // label in the report: "dcnet" or "ref"
	Binary  string // executable
	CNIPath string // CNI_PATH it is given
	Conf    []byte // network configuration on stdin
	Bridge  string // node bridge its host ends are attached to
}

// newPlugins returns dcnet and the reference bridge+host-local, configured
// to give a container the same thing: eth0 with one IPv4 address, a default
// route, MTU 1420, the host end on a node bridge with hairpin mode.
func newPlugins(e *env) (dcnet, ref *plugin) {
	bins := e.Bins
	dcnet = &plugin{
		Name:    "dcnet",
		Binary:  bins.Dcnet,
		CNIPath: e.DcnetPath,
		Conf:    fmt.Appendf(nil, `{"cniVersion":"1.0.0","name":%q,"type":"dcnet","socket":%q}`, dcnetNetwork, e.Overlayd.Socket()),
		Bridge:  e.Network.Bridge,
	}
	ref = &plugin{
		Name:    "ref",
		Binary:  bins.Bridge,
		CNIPath: bins.RefDir,
		Conf: fmt.Appendf(nil, `{"cniVersion":"1.0.0","name":%q,"type":"bridge","bridge":%q,"isGateway":true,`+
			`"ipMasq":false,"hairpinMode":true,"mtu":%d,"ipam":{"type":"host-local","subnet":%q,"dataDir":%q,`+
			`"routes":[{"dst":"0.0.0.0/0"}]}}`, refNetwork, refBridge, wantMTU, refSubnet, e.HostLocalDir),
		Bridge: refBridge,
	}
	return dcnet, ref
}

// Settings of the reference network.
const (
	refNetwork = "ref"
	refBridge  = "cni-ref"
	refSubnet  = "9.200.0.0/24"
	wantMTU    = 1420
)

// args are the CNI_* variables of one invocation.
func (p *plugin) args(command, containerID, netns string) *invoke.Args {
	return &invoke.Args{Command: command, ContainerID: containerID, NetNS: netns, IfName: ifName, Path: p.CNIPath}
}

// driver invokes plugins the way a runtime does: it execs the binary with
// the CNI_* environment and the config on stdin (libcni's
// invoke.ExecPluginWithResult / ExecPluginWithoutResult), from a goroutine
// whose OS thread is locked into the node netns, so the plugin process
// starts in the node netns as it would under a runtime on that node. The
// same path, with the same overhead, serves both plugins.
type driver struct {
	node   netsim.Namespace
	nodeNS string // "net:[inode]" of the node netns
	exec   invoke.Exec
}

// newDriver returns a driver for the node netns.
func newDriver(node netsim.Namespace) (*driver, error) {
	st, err := os.Stat(node.Path)
	if err != nil {
		return nil, fmt.Errorf("node netns %s: %w", node.NSName, err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("node netns %s: no inode", node.NSName)
	}
	return &driver{
		node:   node,
		nodeNS: fmt.Sprintf("net:[%d]", sys.Ino),
		exec:   &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}},
	}, nil
}

// inNode runs fn on an OS thread locked into the node netns. Before fn it
// checks that a process the driver starts really lands in the node netns,
// so that no plugin ever runs in the host's own namespace.
func (d *driver) inNode(ctx context.Context, fn func() error) error {
	return d.node.Do(func(ns.NetNS) error {
		if err := d.verifyNetns(ctx); err != nil {
			return err
		}
		return fn()
	})
}

// verifyNetns execs a shell through the same invoke path as the plugins
// and compares the netns it reports with the node's.
func (d *driver) verifyNetns(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	out, err := d.exec.ExecPlugin(ctx, shell, []byte(whereScript), os.Environ())
	if err != nil {
		return fmt.Errorf("check the netns of child processes: %w", err)
	}
	if got := strings.TrimSpace(string(out)); got != d.nodeNS {
		return fmt.Errorf("a child process landed in netns %s, not the node's %s (%s): refusing to run plugins", got, d.nodeNS, d.node.NSName)
	}
	return nil
}

// add runs ADD and returns its latency, from exec to parsed result, and
// the result. Call it inside inNode.
func (d *driver) add(ctx context.Context, p *plugin, containerID, netns string) (time.Duration, *current.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	start := time.Now()
	r, err := invoke.ExecPluginWithResult(ctx, p.Binary, p.Conf, p.args("ADD", containerID, netns), d.exec)
	took := time.Since(start)
	if err != nil {
		return took, nil, fmt.Errorf("%s ADD container %s (netns %s): %w", p.Name, containerID, netns, err)
	}
	res, err := current.NewResultFromResult(r)
	if err != nil {
		return took, nil, fmt.Errorf("%s ADD container %s: result: %w", p.Name, containerID, err)
	}
	if err := checkResult(res); err != nil {
		return took, nil, fmt.Errorf("%s ADD container %s: %w", p.Name, containerID, err)
	}
	return took, res, nil
}

// del runs DEL and returns its latency. Call it inside inNode.
func (d *driver) del(ctx context.Context, p *plugin, containerID, netns string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	start := time.Now()
	err := invoke.ExecPluginWithoutResult(ctx, p.Binary, p.Conf, p.args("DEL", containerID, netns), d.exec)
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("%s DEL container %s (netns %s): %w", p.Name, containerID, netns, err)
	}
	return took, nil
}

// checkResult wants exactly one IPv4 address and the container interface.
func checkResult(res *current.Result) error {
	if len(res.IPs) != 1 || res.IPs[0].Address.IP.To4() == nil {
		return fmt.Errorf("result has addresses %v, want one IPv4 address", res.IPs)
	}
	for _, iface := range res.Interfaces {
		if iface.Sandbox != "" && iface.Name == ifName {
			return nil
		}
	}
	return fmt.Errorf("result names no interface %s in the container", ifName)
}
