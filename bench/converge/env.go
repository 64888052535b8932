package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Names and bounds of the simulated cluster.
const (
	netsimPrefix = "bconv"
	overlayName  = "dcos" // overlayd's default overlay

	readyTimeout  = 60 * time.Second
	readyInterval = 20 * time.Millisecond
	apiTimeout    = 5 * time.Second
	logLines      = 20
)

// binaries are the absolute paths of the programs the bench runs.
type binaries struct {
	Overlayd, L4LB, DNS string
	// CNI runs cnitool with CNI_PATH a directory holding only dcnet.
	CNI clustersim.CNITool
}

// copyBinaries copies the programs from srcDir (make build's bin/) into
// dir, so that a `make build` running meanwhile cannot mix versions.
func copyBinaries(srcDir, dir string) (binaries, error) {
	b := binaries{
		Overlayd: filepath.Join(dir, "overlayd"),
		L4LB:     filepath.Join(dir, "dcnet-l4lb"),
		DNS:      filepath.Join(dir, "dcnet-dns"),
		CNI:      clustersim.CNITool{Bin: filepath.Join(dir, "cnitool"), CNIPath: filepath.Join(dir, "cni")},
	}
	if err := benchkit.CopyBuilt(srcDir, [][2]string{
		{"overlayd", b.Overlayd}, {"dcnet-l4lb", b.L4LB}, {"dcnet-dns", b.DNS}, {"cnitool", b.CNI.Bin},
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

// master is the master node: one etcd member and dcnet-dns in Mesos-DNS
// mode following the bench's fake Mesos master.
type master struct {
	*netsim.Node
	Dir      string
	Etcd     *clustersim.Etcd
	MesosDNS *netsim.Process
}

// startMaster adds the master node and runs Debian's etcd in it, waiting
// until it answers.
func (e *env) startMaster(ctx context.Context, name string) (*master, error) {
	node, err := e.Fabric.AddNode(name)
	if err != nil {
		return nil, err
	}
	m := &master{Node: node, Dir: filepath.Join(e.Tmp, name)}
	m.Etcd, err = clustersim.StartEtcd(ctx, e, clustersim.EtcdOptions{Nodes: []*netsim.Node{node}, Dir: e.Tmp})
	return m, err
}

// startMesosDNS runs dcnet-dns --mode mesos-dns on the master, following
// the Mesos master at url (its state every refresh and at each event of
// its SUBSCRIBE stream) and publishing the task names to etcd.
func (e *env) startMesosDNS(m *master, url string, refresh time.Duration) error {
	p, err := e.Start(m.Node, filepath.Join(m.Dir, "mesos-dns.log"), e.Bins.DNS, "--mode", "mesos-dns",
		"--mesos-master", url, "--refresh", refresh.String(),
		"--etcd-endpoints", m.Etcd.Endpoints(), "--resolv-conf", "/dev/null")
	m.MesosDNS = p
	return err
}

// agent is a node running overlayd, dcnet-l4lb and dcnet-dns as
// scripts/demo.sh starts them.
type agent struct {
	*netsim.Node
	Dir      string
	CNI      clustersim.CNITool // with NETCONFPATH the agent's own
	Overlayd *clustersim.Overlayd
	L4LB     *netsim.Process
	DNS      *netsim.Process
}

// startAgent adds node name and starts its three daemons against the
// master's etcd; it does not wait for them.
func (e *env) startAgent(name string, m *master) (*agent, error) {
	node, err := e.Fabric.AddNode(name)
	if err != nil {
		return nil, err
	}
	ip := node.UnderlayIP.String()
	a := &agent{Node: node, Dir: filepath.Join(e.Tmp, name), CNI: e.Bins.CNI}
	a.CNI.ConfDir = filepath.Join(a.Dir, "cni")
	a.Overlayd = clustersim.NewOverlayd(e, node, e.Bins.Overlayd, a.Dir)
	a.Overlayd.Etcd = m.Etcd.Endpoints()
	if err := a.Overlayd.Launch(); err != nil {
		return nil, err
	}
	if a.L4LB, err = e.Start(node, filepath.Join(a.Dir, "l4lb.log"), e.Bins.L4LB,
		"--etcd-endpoints", m.Etcd.Endpoints(), "--node-name", name); err != nil {
		return nil, err
	}
	if a.DNS, err = e.Start(node, filepath.Join(a.Dir, "dns.log"), e.Bins.DNS,
		"--node-ip", ip, "--etcd-endpoints", m.Etcd.Endpoints(), "--mesos-dns", m.UnderlayIP.String(),
		"--resolv-conf", "/dev/null"); err != nil {
		return nil, err
	}
	if err := a.writeConf(overlayName, `{"cniVersion":"1.1.0","name":"`+overlayName+`","plugins":[{"type":"dcnet","socket":"`+a.Overlayd.Socket()+`"}]}`); err != nil {
		return nil, err
	}
	return a, nil
}

// procs are the agent's daemons.
func (a *agent) procs() []*netsim.Process { return []*netsim.Process{a.Overlayd.Proc, a.L4LB, a.DNS} }

// logs returns the tails of the agent's daemon logs, for errors.
func (a *agent) logs() string {
	var b strings.Builder
	for _, p := range a.procs() {
		if p != nil {
			fmt.Fprintf(&b, "--- %s (%s):\n%s\n", filepath.Base(p.LogPath), a.Name, netsim.TailFile(p.LogPath, logLines))
		}
	}
	return b.String()
}

// waitOverlay waits until the agent's overlayd has leased its dcos subnet
// and programs peers (want of them), its other daemons still running.
func (a *agent) waitOverlay(ctx context.Context, peers int) error {
	if _, err := a.Overlayd.WaitReady(ctx, readyTimeout); err != nil {
		return fmt.Errorf("%w\n%s", err, a.logs())
	}
	err := netsim.WaitFor(ctx, readyTimeout, readyInterval, func() error {
		for _, p := range a.procs() {
			if p.Exited() {
				return fmt.Errorf("%s exited", filepath.Base(p.Argv[0]))
			}
		}
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		ps, err := a.Overlayd.API.Peers(cctx)
		if err != nil {
			return err
		}
		if len(ps) != peers {
			return fmt.Errorf("%d peers, want %d", len(ps), peers)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("overlayd on %s not ready: %w\n%s", a.Name, err, a.logs())
	}
	return nil
}

// writeConf writes the CNI config list name.conflist into NETCONFPATH.
func (a *agent) writeConf(name, body string) error {
	if err := os.MkdirAll(a.CNI.ConfDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(a.CNI.ConfDir, name+".conflist"), []byte(body), 0o644)
}

// writeVIPConf writes CNI network name (on the dcos overlay) whose
// endpoints carry the label VIP_0=/name:port.
func (a *agent) writeVIPConf(name string, port int) error {
	type label struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	conf := map[string]any{"cniVersion": "1.1.0", "name": name, "plugins": []any{map[string]any{
		"type": "dcnet", "network": overlayName, "socket": a.Overlayd.Socket(),
		"args": map[string]any{"labels": []label{{"VIP_0", fmt.Sprintf("/%s:%d", name, port)}}},
	}}}
	b, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	return a.writeConf(name, string(b))
}

// cniAdd runs `cnitool add netName` for container c on the agent and
// returns the container's IPv4 address.
func (e *env) cniAdd(ctx context.Context, a *agent, netName string, c *netsim.Container) (string, error) {
	at, err := a.CNI.Add(ctx, a.Namespace, netName, c.Path)
	if err == nil && at.IP4 == "" {
		err = fmt.Errorf("cnitool add %s on %s: no IPv4 address", netName, a.Name)
	}
	return at.IP4, err
}

// listen opens a TCP listener on addr inside ns that accepts and closes
// every connection until Close.
func (e *env) listen(ns netsim.Namespace, addr string) error {
	var ln net.Listener
	if err := ns.Do(func(cnins.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return fmt.Errorf("listen on %s in %s: %w", addr, ns.NSName, err)
	}
	e.OnClose(ln.Close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return nil
}
