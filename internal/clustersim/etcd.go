package clustersim

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Ports and bounds of the etcd members.
const (
	EtcdClientPort = 2379
	EtcdPeerPort   = 2380
	// ReadyKey is the key StartEtcd writes to see the cluster serve;
	// it lies outside /dcnet/v1/, so no daemon reads it.
	ReadyKey = "/dcnet-sim/ready"

	etcdReadyTimeout  = 30 * time.Second
	etcdReadyInterval = 100 * time.Millisecond
	etcdTryTimeout    = time.Second
	etcdDialTimeout   = 10 * time.Second
	logLines          = 20
)

// EtcdOptions say where StartEtcd runs its members.
type EtcdOptions struct {
	// Nodes run one member each, named after the node.
	Nodes []*netsim.Node
	// Dir receives each member's log, <Dir>/<name>/etcd.log.
	Dir string
	// DataDir, when set, holds the members' data (<DataDir>/<name>)
	// instead of Dir: a tmpfs makes etcd 3.4, which cannot skip fsync,
	// fast enough for bulk writes.
	DataDir string
}

// Etcd is an etcd cluster of Debian's etcd-server, one member per node.
type Etcd struct {
	Members []*EtcdMember
	// Client reaches the cluster from this process; its connections are
	// dialled inside the first member's netns. The owner closes it.
	Client *clientv3.Client
}

// EtcdMember is one member: its node, command line and current process.
type EtcdMember struct {
	Node *netsim.Node
	Name string
	Argv []string
	Proc *netsim.Process

	owner  Owner
	logDir string
	starts int
}

// ClientURL is the member's client URL on the underlay.
func (m *EtcdMember) ClientURL() string { return endpointURL(m.Node.UnderlayIP, EtcdClientPort) }

// Endpoints are the client URLs of every member, comma-separated, as
// --etcd-endpoints and etcdctl --endpoints take them.
func (e *Etcd) Endpoints() string {
	urls := make([]string, len(e.Members))
	for i, m := range e.Members {
		urls[i] = m.ClientURL()
	}
	return strings.Join(urls, ",")
}

// StartEtcd starts one member on each of o.Nodes, forming a new cluster
// (its token names the first node's netns, so it is unique per fabric),
// and waits until the cluster takes a write. Every member also listens on
// its node's 127.0.0.1:2379, for etcdctl run inside the node.
func StartEtcd(ctx context.Context, owner Owner, o EtcdOptions) (*Etcd, error) {
	if len(o.Nodes) == 0 {
		return nil, errors.New("start etcd: no nodes")
	}
	dataDir := o.DataDir
	if dataDir == "" {
		dataDir = o.Dir
	}
	var peers []string
	for _, n := range o.Nodes {
		peers = append(peers, n.Name+"="+endpointURL(n.UnderlayIP, EtcdPeerPort))
	}
	e := &Etcd{}
	for _, n := range o.Nodes {
		peer := endpointURL(n.UnderlayIP, EtcdPeerPort)
		m := &EtcdMember{Node: n, Name: n.Name, owner: owner, logDir: filepath.Join(o.Dir, n.Name)}
		m.Argv = []string{"etcd", "--name", n.Name, "--data-dir", filepath.Join(dataDir, n.Name, "data"),
			"--listen-client-urls", m.ClientURL() + "," + endpointURL(netip.MustParseAddr("127.0.0.1"), EtcdClientPort),
			"--advertise-client-urls", m.ClientURL(),
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "dcnet-" + o.Nodes[0].NSName, "--log-level", "warn"}
		if err := m.Start(); err != nil {
			return nil, err
		}
		e.Members = append(e.Members, m)
	}
	var urls []string
	for _, m := range e.Members {
		urls = append(urls, m.ClientURL())
	}
	var err error
	e.Client, err = clientv3.New(clientv3.Config{
		Endpoints:   urls,
		DialTimeout: etcdDialTimeout,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(o.Nodes[0].DialTCP)},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", e.Endpoints(), err)
	}
	owner.OnClose(e.Client.Close)
	if err := e.WaitReady(ctx, etcdReadyTimeout); err != nil {
		return nil, err
	}
	return e, nil
}

// Start (re)starts the member with its command line, a new log each time
// (etcd.log, then etcd-1.log, ...); it does not wait.
func (m *EtcdMember) Start() error {
	log := "etcd.log"
	if m.starts > 0 {
		log = fmt.Sprintf("etcd-%d.log", m.starts)
	}
	m.starts++
	p, err := m.owner.Start(m.Node, filepath.Join(m.logDir, log), m.Argv...)
	if err != nil {
		return fmt.Errorf("start etcd on %s: %w", m.Node.Name, err)
	}
	m.Proc = p
	return nil
}

// Stop stops every member by its PID.
func (e *Etcd) Stop() error {
	var errs []error
	for _, m := range e.Members {
		errs = append(errs, m.Proc.Stop())
	}
	return errors.Join(errs...)
}

// WaitReady waits up to timeout until the cluster takes a write of
// ReadyKey; it gives up early when every member has exited.
func (e *Etcd) WaitReady(ctx context.Context, timeout time.Duration) error {
	err := netsim.WaitFor(ctx, timeout, etcdReadyInterval, func() error {
		alive := false
		for _, m := range e.Members {
			alive = alive || !m.Proc.Exited()
		}
		if !alive {
			return errors.New("etcd exited")
		}
		cctx, cancel := context.WithTimeout(ctx, etcdTryTimeout)
		defer cancel()
		_, err := e.Client.Put(cctx, ReadyKey, "1")
		return err
	})
	if err != nil {
		m := e.Members[0]
		return fmt.Errorf("etcd on %s not ready: %w\n%s", m.Node.Name, err, netsim.TailFile(m.Proc.LogPath, logLines))
	}
	return nil
}

func endpointURL(ip netip.Addr, port int) string {
	return "http://" + netip.AddrPortFrom(ip, uint16(port)).String()
}
