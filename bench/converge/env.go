package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// Names and bounds of the simulated cluster.
const (
	netsimPrefix = "bconv"
	etcdPort     = 2379
	etcdPeerPort = 2380
	overlayName  = "dcos" // overlayd's default overlay

	etcdReadyTimeout = 30 * time.Second
	readyTimeout     = 60 * time.Second
	readyInterval    = 20 * time.Millisecond
	etcdOpTimeout    = 5 * time.Second
	apiTimeout       = 5 * time.Second
	cmdTimeout       = 30 * time.Second
	logLines         = 20
)

// binaries are the absolute paths of the programs the bench runs.
type binaries struct {
	Overlayd, L4LB, DNS, Cnitool string
	// CNIPath is CNI_PATH for cnitool: a directory holding only dcnet.
	CNIPath string
}

// copyBinaries copies the programs from srcDir (make build's bin/) into
// dir, so that a `make build` running meanwhile cannot mix versions.
func copyBinaries(srcDir, dir string) (binaries, error) {
	b := binaries{
		Overlayd: filepath.Join(dir, "overlayd"),
		L4LB:     filepath.Join(dir, "dcnet-l4lb"),
		DNS:      filepath.Join(dir, "dcnet-dns"),
		Cnitool:  filepath.Join(dir, "cnitool"),
		CNIPath:  filepath.Join(dir, "cni"),
	}
	if err := benchkit.CopyBuilt(srcDir, [][2]string{
		{"overlayd", b.Overlayd}, {"dcnet-l4lb", b.L4LB}, {"dcnet-dns", b.DNS}, {"cnitool", b.Cnitool},
		{"dcnet", filepath.Join(b.CNIPath, "dcnet")},
	}); err != nil {
		return binaries{}, err
	}
	return b, nil
}

// env is everything the run made (benchkit.Env: the temporary directory,
// the fabric, the processes and clients) and the copied binaries. Close
// removes all of it.
type env struct {
	*benchkit.Env
	Bins binaries
}

// newEnv makes the temporary directory and the fabric and copies the
// binaries; on failure it removes what it made.
func newEnv(binDir string) (*env, error) {
	be, err := benchkit.NewEnv("dcnet-bench-converge-", netsimPrefix)
	if err != nil {
		return nil, err
	}
	e := &env{Env: be}
	if e.Bins, err = copyBinaries(binDir, filepath.Join(e.Tmp, "bin")); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// onClose registers fn to run first in Close.
func (e *env) onClose(fn func() error) { e.OnClose(fn) }

// start runs argv inside node's netns with its output in log, and
// registers it to be stopped by PID in Close.
func (e *env) start(node *netsim.Node, log string, argv ...string) (*netsim.Process, error) {
	return e.Start(node, log, argv...)
}

// master is the master node: one etcd member and dcnet-dns in Mesos-DNS
// mode following the bench's fake Mesos master.
type master struct {
	*netsim.Node
	Dir      string
	Endpoint string // etcd client URL
	Etcd     *netsim.Process
	MesosDNS *netsim.Process
	// Client reaches etcd from this process: its connections are dialled
	// inside the master netns (the host has no route to the underlay).
	Client *clientv3.Client
}

// startMaster adds the master node and runs Debian's etcd in it, waiting
// until it answers.
func (e *env) startMaster(ctx context.Context, name string) (*master, error) {
	node, err := e.Fabric.AddNode(name)
	if err != nil {
		return nil, err
	}
	ip := node.UnderlayIP.String()
	m := &master{Node: node, Dir: filepath.Join(e.Tmp, name)}
	m.Endpoint = fmt.Sprintf("http://%s:%d", ip, etcdPort)
	peer := fmt.Sprintf("http://%s:%d", ip, etcdPeerPort)
	argv := []string{"etcd", "--name", name, "--data-dir", filepath.Join(m.Dir, "etcd"),
		"--listen-client-urls", m.Endpoint, "--advertise-client-urls", m.Endpoint,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", name + "=" + peer, "--initial-cluster-state", "new",
		"--initial-cluster-token", "dcnet-bench-" + name, "--log-level", "warn"}
	if m.Etcd, err = e.start(node, filepath.Join(m.Dir, "etcd.log"), argv...); err != nil {
		return nil, err
	}
	m.Client, err = clientv3.New(clientv3.Config{
		Endpoints:   []string{m.Endpoint},
		DialTimeout: etcdOpTimeout,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(node.Namespace.DialTCP)},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", m.Endpoint, err)
	}
	e.onClose(m.Client.Close)
	err = netsim.WaitFor(ctx, etcdReadyTimeout, 100*time.Millisecond, func() error {
		if exited(m.Etcd) {
			return errors.New("etcd exited")
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := m.Client.Put(cctx, "/dcnet-bench/ready", "1")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("etcd on %s not ready: %w\n%s", name, err, netsim.TailFile(m.Etcd.LogPath, logLines))
	}
	return m, nil
}

// startMesosDNS runs dcnet-dns --mode mesos-dns on the master, following
// the Mesos master at url (its state every refresh and at each event of
// its SUBSCRIBE stream) and publishing the task names to etcd.
func (e *env) startMesosDNS(m *master, url string, refresh time.Duration) error {
	p, err := e.start(m.Node, filepath.Join(m.Dir, "mesos-dns.log"), e.Bins.DNS, "--mode", "mesos-dns",
		"--mesos-master", url, "--refresh", refresh.String(),
		"--etcd-endpoints", m.Endpoint, "--resolv-conf", "/dev/null")
	m.MesosDNS = p
	return err
}

// agent is a node running overlayd, dcnet-l4lb and dcnet-dns as
// scripts/demo.sh starts them.
type agent struct {
	*netsim.Node
	Dir      string
	Socket   string
	ConfDir  string // NETCONFPATH for cnitool
	API      *api.Client
	Overlayd *netsim.Process
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
	a := &agent{Node: node, Dir: filepath.Join(e.Tmp, name)}
	a.Socket = filepath.Join(a.Dir, "run", "overlayd.sock")
	a.ConfDir = filepath.Join(a.Dir, "cni")
	a.API = api.NewClient(a.Socket)
	if a.Overlayd, err = e.start(node, filepath.Join(a.Dir, "overlayd.log"), e.Bins.Overlayd,
		"--node-name", name, "--underlay-ip", ip, "--etcd-endpoints", m.Endpoint,
		"--run-dir", filepath.Join(a.Dir, "run"), "--state-dir", filepath.Join(a.Dir, "state"), "--metrics-addr", ""); err != nil {
		return nil, err
	}
	if a.L4LB, err = e.start(node, filepath.Join(a.Dir, "l4lb.log"), e.Bins.L4LB,
		"--etcd-endpoints", m.Endpoint, "--node-name", name); err != nil {
		return nil, err
	}
	if a.DNS, err = e.start(node, filepath.Join(a.Dir, "dns.log"), e.Bins.DNS,
		"--node-ip", ip, "--etcd-endpoints", m.Endpoint, "--mesos-dns", m.UnderlayIP.String(),
		"--resolv-conf", "/dev/null"); err != nil {
		return nil, err
	}
	if err := a.writeConf(overlayName, `{"cniVersion":"1.1.0","name":"`+overlayName+`","plugins":[{"type":"dcnet","socket":"`+a.Socket+`"}]}`); err != nil {
		return nil, err
	}
	return a, nil
}

// logs returns the tails of the agent's daemon logs, for errors.
func (a *agent) logs() string {
	var b strings.Builder
	for _, p := range []*netsim.Process{a.Overlayd, a.L4LB, a.DNS} {
		if p != nil {
			fmt.Fprintf(&b, "--- %s (%s):\n%s\n", filepath.Base(p.LogPath), a.Name, netsim.TailFile(p.LogPath, logLines))
		}
	}
	return b.String()
}

// waitOverlay waits until the agent's overlayd has leased its dcos subnet
// and programs peers (want of them).
func (a *agent) waitOverlay(ctx context.Context, peers int) error {
	err := netsim.WaitFor(ctx, readyTimeout, readyInterval, func() error {
		for _, p := range []*netsim.Process{a.Overlayd, a.L4LB, a.DNS} {
			if exited(p) {
				return fmt.Errorf("%s exited", filepath.Base(p.Argv[0]))
			}
		}
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		nets, err := a.API.Networks(cctx)
		if err != nil {
			return err
		}
		leased := false
		for _, n := range nets {
			leased = leased || (n.Name == overlayName && n.NodeSubnet != "")
		}
		if !leased {
			return fmt.Errorf("no subnet of %s yet", overlayName)
		}
		ps, err := a.API.Peers(cctx)
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
	if err := os.MkdirAll(a.ConfDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(a.ConfDir, name+".conflist"), []byte(body), 0o644)
}

// writeVIPConf writes CNI network name (on the dcos overlay) whose
// endpoints carry the label VIP_0=/name:port.
func (a *agent) writeVIPConf(name string, port int) error {
	type label struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	conf := map[string]any{"cniVersion": "1.1.0", "name": name, "plugins": []any{map[string]any{
		"type": "dcnet", "network": overlayName, "socket": a.Socket,
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
	out, err := runIn(ctx, a.Namespace, []string{"CNI_PATH=" + e.Bins.CNIPath, "NETCONFPATH=" + a.ConfDir},
		e.Bins.Cnitool, "add", netName, c.Path)
	if err != nil {
		return "", fmt.Errorf("cnitool add %s on %s: %w", netName, a.Name, err)
	}
	var res struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return "", fmt.Errorf("cnitool add %s on %s: result %q: %w", netName, a.Name, out, err)
	}
	for _, ip := range res.IPs {
		if addr, _, ok := strings.Cut(ip.Address, "/"); ok && !strings.Contains(addr, ":") {
			return addr, nil
		}
	}
	return "", fmt.Errorf("cnitool add %s on %s: no IPv4 address in %s", netName, a.Name, out)
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
	e.onClose(ln.Close)
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

// runIn runs argv inside ns with a bounded time and returns its stdout.
func runIn(ctx context.Context, ns netsim.Namespace, env []string, argv ...string) (string, error) {
	return benchkit.RunIn(ctx, cmdTimeout, ns, env, argv...)
}

// exited reports whether p has exited.
func exited(p *netsim.Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}
