package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// Names and bounds of the simulated cluster.
const (
	netsimPrefix = "bovl"
	etcdPort     = 2379
	etcdPeerPort = 2380

	etcdReadyTimeout = 30 * time.Second
	readyInterval    = 20 * time.Millisecond
	etcdOpTimeout    = 5 * time.Second
	cmdTimeout       = 30 * time.Second
)

// binaries are the absolute paths of the programs the bench runs.
type binaries struct {
	Overlayd string
	Dcnetctl string
	Cnitool  string
	// CNIPath is CNI_PATH for cnitool: a directory holding only dcnet.
	CNIPath string
}

// copyBinaries copies overlayd, dcnetctl, cnitool and dcnet from srcDir
// (make build's bin/) into dir, so that a `make build` running meanwhile
// cannot mix versions.
func copyBinaries(srcDir, dir string) (binaries, error) {
	b := binaries{
		Overlayd: filepath.Join(dir, "overlayd"),
		Dcnetctl: filepath.Join(dir, "dcnetctl"),
		Cnitool:  filepath.Join(dir, "cnitool"),
		CNIPath:  filepath.Join(dir, "cni"),
	}
	if err := benchkit.CopyBuilt(srcDir, [][2]string{
		{"overlayd", b.Overlayd}, {"dcnetctl", b.Dcnetctl}, {"cnitool", b.Cnitool},
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
	be, err := benchkit.NewEnv("dcnet-bench-overlay-", netsimPrefix)
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

// start runs argv inside ns (a node or a container netns) with its output
// in log, and registers it to be stopped by PID in Close.
func (e *env) start(ns netsim.Namespace, name, log string, argv ...string) (*netsim.Process, error) {
	return e.Start(&netsim.Node{Namespace: ns, Name: name}, log, argv...)
}

// etcdServer is Debian's etcd, one member, in its own master netns.
type etcdServer struct {
	Node     *netsim.Node
	Proc     *netsim.Process
	Endpoint string
	// Client reaches the member from this process: its connections are
	// dialled inside the master netns (the host has no route to the
	// underlay).
	Client *clientv3.Client
}

// startEtcd adds node name, runs etcd in it and waits until it answers.
func (e *env) startEtcd(ctx context.Context, name string) (*etcdServer, error) {
	node, err := e.Fabric.AddNode(name)
	if err != nil {
		return nil, err
	}
	ip := node.UnderlayIP.String()
	dir := filepath.Join(e.Tmp, name)
	client := fmt.Sprintf("http://%s:%d", ip, etcdPort)
	peer := fmt.Sprintf("http://%s:%d", ip, etcdPeerPort)
	argv := []string{"etcd", "--name", name, "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", name + "=" + peer, "--initial-cluster-state", "new",
		"--initial-cluster-token", "dcnet-bench-" + name, "--log-level", "warn"}
	s := &etcdServer{Node: node, Endpoint: client}
	if s.Proc, err = e.start(node.Namespace, name, filepath.Join(dir, "etcd.log"), argv...); err != nil {
		return nil, err
	}
	s.Client, err = clientv3.New(clientv3.Config{
		Endpoints:   []string{client},
		DialTimeout: etcdOpTimeout,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(node.Namespace.DialTCP)},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", client, err)
	}
	e.onClose(s.Client.Close)
	err = netsim.WaitFor(ctx, etcdReadyTimeout, 100*time.Millisecond, func() error {
		select {
		case <-s.Proc.Done():
			return errors.New("etcd exited")
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := s.Client.Put(cctx, "/dcnet-bench/ready", "1")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("etcd on %s not ready (log %s): %w", name, s.Proc.LogPath, err)
	}
	return s, nil
}

// Stop stops the etcd member by its PID.
func (s *etcdServer) Stop() error { return s.Proc.Stop() }

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
	e.onClose(func() error { nh.Close(); return nil })
	return nh, nil
}

// runIn runs argv inside ns with a bounded time and returns its output.
func runIn(ctx context.Context, ns netsim.Namespace, env []string, argv ...string) (string, error) {
	return benchkit.RunIn(ctx, cmdTimeout, ns, env, argv...)
}
