package overlayd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/cluster/embedded"
	"github.com/dcnet/dcnet/ipam"
	"github.com/dcnet/dcnet/overlayd/alloc"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/config"
	"github.com/dcnet/dcnet/overlayd/datapath"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Options are the daemon's inputs besides the config file.
type Options struct {
	Config   config.Config
	RunDir   string // holds overlayd.sock
	StateDir string // holds overlayd.db and the embedded etcd
	Version  string
	Log      *slog.Logger
	// Kernel applies datapath state; nil means the real one (netlink).
	Kernel datapath.Kernel
}

// Daemon is a running overlayd.
type Daemon struct {
	opts    Options
	cfg     config.Config
	log     *slog.Logger
	ipam    *ipam.Store
	store   *cluster.Store
	kernel  datapath.Kernel
	metrics *metrics
	started time.Time
	// storeEndpoints are the etcd URLs store talks to (the embedded
	// member's included); set before the API serves.
	storeEndpoints []string

	live      *cluster.Liveness
	publisher *cluster.Publisher
	// withdrawRevs holds, per withdrawn attachment, the revision at
	// which this daemon deleted its record (see handleWithdraw).
	withdrawMu   sync.Mutex
	withdrawRevs map[api.AttachmentID]int64
	endpoints    *cluster.Cache
	nodes        *cluster.Cache
	alive        *cluster.Cache

	underlayMTU int
	lastNode    []byte    // last node record written
	lastNodeAt  time.Time // when

	mu       sync.RWMutex
	vtep4    netip.Addr
	vtep6    netip.Addr
	networks map[string]*network
	ready    bool
	storeErr error
	kick     chan struct{} // full reconcile soon
	// peersKick asks for the fast path: only the peers changed.
	peersKick chan struct{}
	// applied is the peer state the last reconcile left in the kernel
	// (valid when appliedOK); owned by the reconcile loop.
	applied   datapath.PeerState
	appliedOK bool
	// decoded caches decoded node records by key; owned by storeNodes'
	// callers under decodeMu.
	decodeMu sync.Mutex
	decoded  map[string]decodedNode
}

type network struct {
	cfg  config.Overlay
	sub4 netip.Prefix // leased
	sub6 netip.Prefix
	// ready4 and ready6 are the subnets a datapath pass has put on the
	// bridge; addresses are handed out only from those, so no container
	// attaches before its gateway exists or the bridge MAC settles.
	ready4 netip.Prefix
	ready6 netip.Prefix
}

// Meta keys in the local database.
const (
	metaLease  = "lease"
	dbFile     = "overlayd.db"
	socketFile = "overlayd.sock"
	etcdDir    = "etcd"
)

func metaSubnetKey(overlay string, v6 bool) string {
	if v6 {
		return "subnet6/" + overlay
	}
	return "subnet/" + overlay
}

// Run starts overlayd and serves until ctx ends.
func Run(ctx context.Context, opts Options) error {
	d, err := newDaemon(opts)
	if err != nil {
		return err
	}
	defer d.close()
	return d.run(ctx)
}

func newDaemon(opts Options) (*Daemon, error) {
	cfg := opts.Config
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("node name: set nodeName in the config: %w", err)
		}
		cfg.NodeName = h
	}
	for _, dir := range []string{opts.RunDir, opts.StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create directory %s: %w", dir, err)
		}
	}
	db, err := ipam.Open(filepath.Join(opts.StateDir, dbFile))
	if err != nil {
		return nil, err
	}
	k := opts.Kernel
	if k == nil {
		k = datapath.NewNetlink()
	}
	d := &Daemon{opts: opts, cfg: cfg, log: opts.Log, ipam: db, kernel: k, started: time.Now().UTC(),
		networks: map[string]*network{}, kick: make(chan struct{}, 1), peersKick: make(chan struct{}, 1),
		decoded: map[string]decodedNode{}}
	for _, o := range cfg.Overlays {
		n := &network{cfg: o}
		// A remembered lease serves at once, even if the store is away.
		n.sub4 = d.metaPrefix(metaSubnetKey(o.Name, false))
		n.sub6 = d.metaPrefix(metaSubnetKey(o.Name, true))
		d.networks[o.Name] = n
	}
	d.vtep4 = d.metaAddr(metaVTEP)
	d.vtep6 = d.metaAddr(metaVTEP6)
	d.metrics = newMetrics(d)
	return d, nil
}

func (d *Daemon) metaPrefix(key string) netip.Prefix {
	b, ok, err := d.ipam.GetMeta(key)
	if err != nil || !ok {
		return netip.Prefix{}
	}
	p, _ := netip.ParsePrefix(string(b))
	return p
}

func (d *Daemon) close() {
	d.ipam.Close()
}

func (d *Daemon) run(ctx context.Context) error {
	endpoints := d.cfg.Etcd.Endpoints
	if len(endpoints) == 0 {
		etcd, err := embedded.Start(d.cfg.NodeName, filepath.Join(d.opts.StateDir, etcdDir), d.cfg.Etcd.ClientURL, d.cfg.Etcd.PeerURL, d.log)
		if err != nil {
			return err
		}
		defer etcd.Close()
		endpoints = []string{etcd.ClientURL}
	}
	store, err := cluster.Connect(cluster.Options{Endpoints: endpoints, CAFile: d.cfg.Etcd.CAFile, CertFile: d.cfg.Etcd.CertFile, KeyFile: d.cfg.Etcd.KeyFile})
	if err != nil {
		return err
	}
	d.store, d.storeEndpoints = store, endpoints
	// Close the client before the embedded etcd (deferred earlier, so it
	// runs later): etcd's graceful stop waits for open client connections.
	defer store.Close()
	if d.cfg.UnderlayIP == "" {
		d.cfg.UnderlayIP = detectUnderlayIP(endpoints)
	}
	d.underlayMTU = underlayLinkMTU(d.cfg.UnderlayIP)
	d.resolveAutoMTU()
	for _, w := range d.mtuWarnings() {
		d.log.Warn(w)
	}
	ln, err := listenUnix(filepath.Join(d.opts.RunDir, socketFile))
	if err != nil {
		return err
	}
	var prev clientv3.LeaseID
	if b, ok, _ := d.ipam.GetMeta(metaLease); ok {
		fmt.Sscanf(string(b), "%x", (*int64)(&prev))
	}
	d.live = cluster.NewLiveness(store, d.cfg.NodeName, d.cfg.UnderlayIP, d.cfg.LeaseTTL.Duration, prev, d.log)
	d.publisher = cluster.NewPublisher(store, cluster.NodeEndpointsPrefix(d.cfg.NodeName), d.live.ID, d.desiredEndpoints, d.log)
	d.live.OnLease = func(id clientv3.LeaseID, reused bool) {
		if err := d.ipam.PutMeta(metaLease, []byte(fmt.Sprintf("%x", int64(id)))); err != nil {
			d.log.Error("remember liveness lease", "err", err)
		}
		d.publisher.Kick()
	}
	d.endpoints = cluster.NewCache(store, cluster.EndpointsPrefix, d.log)
	d.nodes = cluster.NewCache(store, cluster.NodesPrefix, d.log)
	d.nodes.OnChange = d.kickPeers
	d.alive = cluster.NewCache(store, cluster.AlivePrefix, d.log)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	goRun := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	goRun(d.leaseLoop)
	goRun(d.reconcileLoop)
	goRun(d.live.Run)
	goRun(func(ctx context.Context) { d.publisher.Run(ctx, d.cfg.ReconcileInterval.Duration) })
	goRun(d.endpoints.Run)
	goRun(d.nodes.Run)
	goRun(d.alive.Run)

	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var msrv *http.Server
	if d.cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", d.cfg.MetricsAddr)
		if err != nil {
			srv.Close()
			return fmt.Errorf("metrics listener %s (set metricsAddr to another address or \"\"): %w", d.cfg.MetricsAddr, err)
		}
		msrv = &http.Server{Handler: d.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- msrv.Serve(mln) }()
	}
	d.log.Info("overlayd started", "node", d.cfg.NodeName, "underlay", d.cfg.UnderlayIP, "socket", ln.Addr().String(), "store", store.String(), "metrics", d.cfg.MetricsAddr)

	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
		err = fmt.Errorf("api server: %w", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	if msrv != nil {
		msrv.Shutdown(sctx)
	}
	cancel()
	wg.Wait()
	d.log.Info("overlayd stopped", "node", d.cfg.NodeName)
	return err
}

// listenUnix listens on path, replacing a stale socket, root-only.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("socket %s is served by another overlayd: stop it or use another --run-dir", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict socket %s to root: %w", path, err)
	}
	return ln, nil
}

// kickReconcile asks the reconcile loop for a pass soon.
func (d *Daemon) kickReconcile() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

const (
	leaseRetryMin = 200 * time.Millisecond
	leaseRetryMax = 5 * time.Second
)

// leaseLoop obtains the node's subnets and registers the node, retrying
// until it succeeds; then it re-registers on every reconcile interval.
func (d *Daemon) leaseLoop(ctx context.Context) {
	backoff := leaseRetryMin
	for ctx.Err() == nil {
		err := d.leaseAll(ctx)
		d.setStoreErr(err)
		if err == nil {
			d.kickReconcile()
			d.publisher.Kick()
			d.reclaimGone(ctx)
			sleepCtx(ctx, d.cfg.ReconcileInterval.Duration)
			backoff = leaseRetryMin
			continue
		}
		d.log.Warn("subnet lease: will retry", "node", d.cfg.NodeName, "err", err, "retry", backoff)
		sleepCtx(ctx, backoff)
		backoff = min(backoff*2, leaseRetryMax)
	}
}

func (d *Daemon) leaseAll(ctx context.Context) error {
	if err := d.leaseVTEP(ctx); err != nil {
		return err
	}
	node := cluster.Node{Name: d.cfg.NodeName, UnderlayIP: d.cfg.UnderlayIP, Subnets: map[string][]string{}}
	d.mu.RLock()
	node.VTEPIP = d.vtep4.String()
	node.VTEPMAC = datapath.VTEPMAC(d.vtep4).String()
	if d.vtep6.IsValid() {
		node.VTEPIP6 = d.vtep6.String()
	}
	d.mu.RUnlock()
	for _, o := range d.cfg.Overlays {
		d.mu.RLock()
		n := d.networks[o.Name]
		have := [2]netip.Prefix{n.sub4, n.sub6}
		d.mu.RUnlock()
		for i, fam := range []struct {
			rng  string
			bits int
		}{{o.Subnet, o.Prefix}, {o.Subnet6, o.Prefix6}} {
			if fam.rng == "" {
				continue
			}
			rng := netip.MustParsePrefix(fam.rng)
			p, err := alloc.LeaseSubnet(ctx, d.store, o.Name, d.cfg.NodeName, rng, fam.bits, have[i])
			if err != nil {
				return err
			}
			if p != have[i] {
				if err := d.ipam.PutMeta(metaSubnetKey(o.Name, i == 1), []byte(p.String())); err != nil {
					return fmt.Errorf("remember subnet %s: %w", p, err)
				}
				d.log.Info("subnet leased", "overlay", o.Name, "subnet", p)
				d.mu.Lock()
				if i == 0 {
					n.sub4 = p
				} else {
					n.sub6 = p
				}
				d.mu.Unlock()
			}
			node.Subnets[o.Name] = append(node.Subnets[o.Name], p.String())
		}
	}
	return d.putNode(ctx, node)
}

// nodeRefresh bounds how stale the node record's Updated time may get; the
// record is otherwise rewritten only when it changes.
const nodeRefresh = time.Hour

func (d *Daemon) putNode(ctx context.Context, n cluster.Node) error {
	b, _ := json.Marshal(n)
	if string(b) == string(d.lastNode) && time.Since(d.lastNodeAt) < min(nodeRefresh, d.cfg.NodeGracePeriod.Duration/4) {
		return nil
	}
	if err := alloc.PutNode(ctx, d.store, n); err != nil {
		return err
	}
	d.lastNode, d.lastNodeAt = b, time.Now()
	return nil
}

func (d *Daemon) setStoreErr(err error) {
	d.mu.Lock()
	d.storeErr = err
	d.mu.Unlock()
}

// plan computes the wanted datapath state from config and leases.
func (d *Daemon) plan() datapath.Want {
	w, _ := d.planLeases()
	return w
}

// planLeases is plan, also returning the subnets it planned per network.
func (d *Daemon) planLeases() (datapath.Want, map[string][2]netip.Prefix) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var in []datapath.OverlayLease
	used := make(map[string][2]netip.Prefix, len(d.cfg.Overlays))
	for _, o := range d.cfg.Overlays {
		n := d.networks[o.Name]
		used[o.Name] = [2]netip.Prefix{n.sub4, n.sub6}
		in = append(in, datapath.OverlayLease{Bridge: o.Bridge, MTU: int(o.MTU), Masquerade: o.MasqueradeOn(),
			Range4: o.Prefix4(), Range6: o.Prefix6Range(), NodeSubnet4: n.sub4, NodeSubnet6: n.sub6})
	}
	w := datapath.Plan(in)
	w.VTEP = d.vtepLocked()
	w.Self = d.cfg.NodeName
	if w.VTEP != nil {
		w.Peers = d.peers(d.vtep4)
		w.PeersUnknown = d.nodes == nil || !d.nodes.Synced()
	}
	return w, used
}

// markReady records the subnets a datapath pass has applied.
func (d *Daemon) markReady(used map[string][2]netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, subs := range used {
		n := d.networks[name]
		n.ready4, n.ready6 = subs[0], subs[1]
	}
}

// desiredEndpoints derives this node's endpoint records from local state.
func (d *Daemon) desiredEndpoints() (map[string][]byte, error) {
	atts, err := d.ipam.List()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(atts))
	for _, a := range atts {
		if a.Withdrawn {
			continue // being removed: VIPs must not choose it
		}
		b, _ := json.Marshal(endpointRecord(a, d.cfg.NodeName, d.cfg.UnderlayIP))
		out[cluster.EndpointKey(d.cfg.NodeName, a.Network, a.ContainerID, a.IfName)] = b
	}
	return out, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
