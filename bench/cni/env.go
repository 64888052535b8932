package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
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

	readyTimeout  = 90 * time.Second
	readyInterval = 100 * time.Millisecond
	logTailLines  = 30
)

// binaries are the absolute paths of the programs the bench runs.
type binaries struct {
	Overlayd  string
	Dcnet     string
	Bridge    string
	HostLocal string
	RefDir    string // CNI_PATH of the reference: bridge finds host-local here
}

// findBinaries resolves the built programs under dir.
func findBinaries(dir string) (binaries, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return binaries{}, fmt.Errorf("binary directory %s: %w", dir, err)
	}
	b := binaries{
		Overlayd:  filepath.Join(abs, "overlayd"),
		Dcnet:     filepath.Join(abs, "dcnet"),
		Bridge:    filepath.Join(abs, "ref", "bridge"),
		HostLocal: filepath.Join(abs, "ref", "host-local"),
		RefDir:    filepath.Join(abs, "ref"),
	}
	for _, p := range []string{b.Overlayd, b.Dcnet, b.Bridge, b.HostLocal} {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return binaries{}, fmt.Errorf("%s is missing or not executable: run `make build` from the repository root first", p)
		}
	}
	return b, nil
}

// copyBinaries copies the programs into dir: overlayd, cni-dcnet/dcnet,
// ref/bridge and ref/host-local.
func copyBinaries(src binaries, dir string) (binaries, error) {
	dst := binaries{
		Overlayd:  filepath.Join(dir, "overlayd"),
		Dcnet:     filepath.Join(dir, "cni-dcnet", "dcnet"),
		Bridge:    filepath.Join(dir, "ref", "bridge"),
		HostLocal: filepath.Join(dir, "ref", "host-local"),
		RefDir:    filepath.Join(dir, "ref"),
	}
	for _, pair := range [][2]string{
		{src.Overlayd, dst.Overlayd}, {src.Dcnet, dst.Dcnet}, {src.Bridge, dst.Bridge}, {src.HostLocal, dst.HostLocal},
	} {
		if err := benchkit.CopyExecutable(pair[0], pair[1]); err != nil {
			return binaries{}, fmt.Errorf("copy %s: %w", pair[0], err)
		}
	}
	return dst, nil
}

// env is the simulated node: a fabric with one node netns running overlayd,
// and the container namespaces the plugins fill. Close removes all of it.
type env struct {
	Tmp          string
	Fabric       *netsim.Fabric
	Node         *netsim.Node
	Overlayd     *netsim.Process
	Socket       string
	API          *api.Client
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

// newEnv builds the node and starts overlayd; on failure it removes what it
// made.
func newEnv(ctx context.Context, bins binaries, containers int) (e *env, err error) {
	e = &env{}
	defer func() {
		if err != nil {
			if tail := e.overlaydLogTail(); tail != "" {
				err = fmt.Errorf("%w\nlast lines of the overlayd log:\n%s", err, tail)
			}
			err = errors.Join(err, e.Close())
			e = nil
		}
	}()
	if e.Tmp, err = os.MkdirTemp("", "dcnet-bench-cni-"); err != nil {
		return e, fmt.Errorf("temporary directory: %w", err)
	}
	e.HostLocalDir = filepath.Join(e.Tmp, "host-local")
	if e.Bins, err = copyBinaries(bins, filepath.Join(e.Tmp, "bin")); err != nil {
		return e, err
	}
	e.DcnetPath = filepath.Dir(e.Bins.Dcnet)
	if e.Fabric, err = netsim.NewFabricNoT(netsimPrefix); err != nil {
		return e, err
	}
	if e.Node, err = e.Fabric.AddNode(nodeName); err != nil {
		return e, err
	}
	if err := e.startOverlayd(ctx, e.Bins.Overlayd); err != nil {
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

// startOverlayd runs overlayd with its default config in the node netns
// and waits until it has leased the node's subnet of the dcos overlay.
func (e *env) startOverlayd(ctx context.Context, binary string) error {
	e.Socket = filepath.Join(e.Tmp, "run", "overlayd.sock")
	argv := []string{binary,
		"--node-name", nodeName,
		"--underlay-ip", e.Node.UnderlayIP.String(),
		"--run-dir", filepath.Join(e.Tmp, "run"),
		"--state-dir", filepath.Join(e.Tmp, "state"),
		"--metrics-addr", "",
	}
	p, err := netsim.StartProcess(context.Background(), e.Node, filepath.Join(e.Tmp, "overlayd.log"), argv...)
	if err != nil {
		return err
	}
	e.Overlayd = p
	e.API = api.NewClient(e.Socket)
	err = netsim.WaitFor(ctx, readyTimeout, readyInterval, func() error {
		select {
		case <-p.Done():
			return errors.New("overlayd exited")
		default:
		}
		nets, err := e.API.Networks(ctx)
		if err != nil {
			return err
		}
		for _, n := range nets {
			if n.Name == dcnetNetwork && n.NodeSubnet != "" {
				e.Network = n
				return nil
			}
		}
		return fmt.Errorf("no node subnet of network %s yet (networks: %+v)", dcnetNetwork, nets)
	})
	if err != nil {
		return fmt.Errorf("wait for overlayd on node %s to lease a subnet of %s: %w", nodeName, dcnetNetwork, err)
	}
	return nil
}

// Close stops overlayd by its PID, removes every namespace and the
// temporary directory. Safe to call on a half-built env and repeatedly.
func (e *env) Close() error {
	if e == nil {
		return nil
	}
	var errs []error
	if e.Overlayd != nil {
		errs = append(errs, e.Overlayd.Stop())
		e.Overlayd = nil
	}
	if e.Fabric != nil {
		errs = append(errs, e.Fabric.Close())
		e.Fabric = nil
	}
	if e.Tmp != "" {
		errs = append(errs, os.RemoveAll(e.Tmp))
		e.Tmp = ""
	}
	return errors.Join(errs...)
}

// overlaydLogTail returns the last lines of overlayd's log, "" when there
// is none.
func (e *env) overlaydLogTail() string {
	if e == nil || e.Tmp == "" {
		return ""
	}
	path := filepath.Join(e.Tmp, "overlayd.log")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return netsim.TailFile(path, logTailLines)
}
