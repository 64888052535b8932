package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Names and bounds of the simulated cluster.
const (
	netsimPrefix = "bovl"

	readyInterval = 20 * time.Millisecond
	etcdOpTimeout = 5 * time.Second
	cmdTimeout    = 30 * time.Second
)

// binaries are the absolute paths of the programs the bench runs.
type binaries struct {
	Overlayd string
	Dcnetctl string
	// CNI runs cnitool with CNI_PATH a directory holding only dcnet.
	CNI clustersim.CNITool
}

// copyBinaries copies overlayd, dcnetctl, cnitool and dcnet from srcDir
// (make build's bin/) into dir, so that a `make build` running meanwhile
// cannot mix versions.
func copyBinaries(srcDir, dir string) (binaries, error) {
	b := binaries{
		Overlayd: filepath.Join(dir, "overlayd"),
		Dcnetctl: filepath.Join(dir, "dcnetctl"),
		CNI:      clustersim.CNITool{Bin: filepath.Join(dir, "cnitool"), CNIPath: filepath.Join(dir, "cni")},
	}
	if err := benchkit.CopyBuilt(srcDir, [][2]string{
		{"overlayd", b.Overlayd}, {"dcnetctl", b.Dcnetctl}, {"cnitool", b.CNI.Bin},
		{"dcnet", filepath.Join(b.CNI.CNIPath, "dcnet")},
	}); err != nil {
		return binaries{}, err
	}
	return b, nil
}

// env is the run: its benchkit.Env and the binaries copied into it.
type env struct {
	*benchkit.Env
	Bins binaries
}

// start runs argv inside ns (a node or a container netns) with its output
// in log, and registers it to be stopped by PID at the end.
func (e *env) start(ns netsim.Namespace, name, log string, argv ...string) (*netsim.Process, error) {
	return e.Start(&netsim.Node{Namespace: ns, Name: name}, log, argv...)
}

// startEtcd adds node name and runs one etcd member in it (Debian's
// etcd-server), waiting until it answers.
func (e *env) startEtcd(ctx context.Context, name string) (*clustersim.Etcd, error) {
	node, err := e.Fabric.AddNode(name)
	if err != nil {
		return nil, err
	}
	return clustersim.StartEtcd(ctx, e, clustersim.EtcdOptions{Nodes: []*netsim.Node{node}, Dir: e.Tmp})
}

// openNetlink returns a netlink handle whose sockets live in ns, usable
// from any goroutine of this process (one goroutine at a time).
func (e *env) openNetlink(ns netsim.Namespace) (*netlink.Handle, error) {
	h, err := netns.GetFromPath(ns.Path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", ns.NSName, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", ns.NSName, err)
	}
	e.OnClose(func() error { nh.Close(); return nil })
	return nh, nil
}

// runIn runs argv inside ns with a bounded time and returns its output.
func runIn(ctx context.Context, ns netsim.Namespace, env []string, argv ...string) (string, error) {
	return benchkit.RunIn(ctx, cmdTimeout, ns, env, argv...)
}
