package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// Names and bounds of the simulated node.
const (
	netsimPrefix = "bcni"
	nodeName     = "bench1"
	// dcnetNetwork is overlayd's default IPv4 overlay, the one dcnet's
	// config names.
	dcnetNetwork = "dcos"

	readyTimeout = 90 * time.Second
	logTailLines = 30
)

// binaries are the absolute paths of the programs the bench runs.
type binaries struct {
	Overlayd  string
	Dcnet     string
	Bridge    string
	HostLocal string
	RefDir    string // CNI_PATH of the reference: bridge finds host-local here
}

// copyBinaries copies the programs `make build` put in srcDir into dir:
// overlayd, cni-dcnet/dcnet, ref/bridge and ref/host-local.
func copyBinaries(srcDir, dir string) (binaries, error) {
	b := binaries{
		Overlayd:  filepath.Join(dir, "overlayd"),
		Dcnet:     filepath.Join(dir, "cni-dcnet", "dcnet"),
		Bridge:    filepath.Join(dir, "ref", "bridge"),
		HostLocal: filepath.Join(dir, "ref", "host-local"),
		RefDir:    filepath.Join(dir, "ref"),
	}
	err := benchkit.CopyBuilt(srcDir, [][2]string{
		{"overlayd", b.Overlayd}, {"dcnet", b.Dcnet}, {"ref/bridge", b.Bridge}, {"ref/host-local", b.HostLocal},
	})
	return b, err
}

// env is the simulated node: one node netns of the run's fabric running
// overlayd, and the container namespaces the plugins fill; the run's Env
// removes all of it.
type env struct {
	*benchkit.Env
	Node         *netsim.Node
	Overlayd     *clustersim.Overlayd
	Network      api.Network // overlayd's dcos network once ready
	Containers   []*netsim.Container
	Probe        *netsim.Container // for the untimed shape check
	HostLocalDir string            // host-local's dataDir
	// Bins are the copies the run uses, so that a `make build` running
	// meanwhile cannot mix versions; DcnetPath, dcnet's CNI_PATH, holds
	// only dcnet, Bins.RefDir only bridge and host-local.
	Bins      binaries
	DcnetPath string
}

// newEnv copies the binaries from binDir, builds the node in be and starts
// overlayd.
func newEnv(ctx context.Context, be *benchkit.Env, binDir string, containers int) (e *env, err error) {
	e = &env{Env: be, HostLocalDir: filepath.Join(be.Tmp, "host-local")}
	if e.Bins, err = copyBinaries(binDir, filepath.Join(be.Tmp, "bin")); err != nil {
		return e, err
	}
	e.DcnetPath = filepath.Dir(e.Bins.Dcnet)
	if e.Node, err = e.Fabric.AddNode(nodeName); err != nil {
		return e, err
	}
	// overlayd with its default config, waiting until it has leased the
	// node's subnet of the dcos overlay.
	e.Overlayd = clustersim.NewOverlayd(e, e.Node, e.Bins.Overlayd, e.Tmp)
	nets, err := e.Overlayd.Start(ctx, readyTimeout)
	if err != nil {
		return e, err
	}
	if e.Network, err = clustersim.Network(nets, dcnetNetwork); err != nil {
		return e, err
	}
	for i := range containers {
		c, err := e.Node.AddContainer(fmt.Sprintf("c%03d", i))
		if err != nil {
			return e, err
		}
		e.Containers = append(e.Containers, c)
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
	}
	if e.Probe, err = e.Node.AddContainer("probe"); err != nil {
		return e, err
	}
	return e, nil
}

// overlaydLogTail returns the last lines of overlayd's log, "" when it has
// none.
func (e *env) overlaydLogTail() string {
	if e == nil || e.Overlayd == nil || e.Overlayd.Log == "" {
		return ""
	}
	return netsim.TailFile(e.Overlayd.Log, logTailLines)
}
