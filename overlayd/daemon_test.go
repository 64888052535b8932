package overlayd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/overlayd/alloc"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/config"
	"github.com/dcnet/dcnet/overlayd/datapath"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testDaemon runs overlayd against an embedded etcd and a fake kernel, no
// root needed. It returns a client and a stop function.
type testDaemon struct {
	client *api.Client
	kernel *lockedFake
	cfg    config.Config
	state  string
	run    string
	stop   func()
}

func startDaemon(t *testing.T, cfg config.Config, state, run string) *testDaemon {
	t.Helper()
	k := &lockedFake{f: datapath.NewFake()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, RunDir: run, StateDir: state, Version: "test", Kernel: k,
			Log: slog.New(slog.NewTextHandler(testLogOut, nil))})
	}()
	c := api.NewClient(filepath.Join(run, socketFile))
	deadline := time.Now().Add(20 * time.Second)
	for {
		ns, err := c.Networks(context.Background())
		if err == nil && ns[0].NodeSubnet != "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("overlayd exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("overlayd not ready: %v %+v", err, ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	td := &testDaemon{client: c, kernel: k, cfg: cfg, state: state, run: run}
	stopped := false
	td.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("overlayd: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("overlayd did not stop")
		}
	}
	t.Cleanup(td.stop)
	return td
}

func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.NodeName = "node-a"
	cfg.UnderlayIP = "198.18.0.1"
	cfg.MetricsAddr = ""
	cfg.Etcd.ClientURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cfg.Etcd.PeerURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cfg.ReconcileInterval = config.Duration{Duration: 200 * time.Millisecond}
	c, err := config.Parse(mustJSON(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDaemonAllocateReleaseGCAndRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	cfg := testConfig(t)
	d := startDaemon(t, cfg, t.TempDir(), t.TempDir())
	ctx := context.Background()

	req := api.AllocateRequest{AttachmentID: api.AttachmentID{Network: "dcos", ContainerID: "c1", IfName: "eth0"},
		Labels: map[string]string{"VIP_0": "/web:80"}, PortMappings: []api.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}}
	r1, err := d.client.Allocate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Network.NodeSubnet != "9.0.0.0/24" || r1.Attachment.IPs[0].Address != "9.0.0.2/24" || r1.Attachment.IPs[0].Gateway != "9.0.0.1" {
		t.Fatalf("first allocation: %+v", r1)
	}
	r2, err := d.client.Allocate(ctx, req)
	if err != nil || r2.Attachment.IPs[0] != r1.Attachment.IPs[0] {
		t.Fatalf("allocation not idempotent: %+v %v", r2, err)
	}
	if _, err := d.client.Allocate(ctx, api.AllocateRequest{AttachmentID: api.AttachmentID{Network: "nope", ContainerID: "c", IfName: "eth0"}}); !api.IsCode(err, api.CodeInvalid) {
		t.Fatalf("unknown network: %v", err)
	}
	bad := req
	bad.PortMappings = []api.PortMapping{{HostPort: 0, ContainerPort: 80}}
	bad.ContainerID = "c-bad"
	if _, err := d.client.Allocate(ctx, bad); !api.IsCode(err, api.CodeInvalid) {
		t.Fatalf("bad port mapping: %v", err)
	}
	r6, err := d.client.Allocate(ctx, api.AllocateRequest{AttachmentID: api.AttachmentID{Network: "dcos6", ContainerID: "c1", IfName: "eth1"}})
	if err != nil || r6.Attachment.IPs[0].Address != "fd01:b::2/80" {
		t.Fatalf("ipv6 allocation: %+v %v", r6, err)
	}

	// The endpoint record appears in the store, with labels and ports.
	waitEndpoints(t, d.client, 2)
	eps, _ := d.client.Endpoints(ctx)
	if eps[0].Node != "node-a" || eps[0].Labels["VIP_0"] != "/web:80" || eps[0].PortMappings[0].HostPort != 8080 {
		t.Fatalf("endpoint record: %+v", eps[0])
	}

	// GC keeps the valid one and frees the other.
	rel, err := d.client.GC(ctx, "dcos6", "", nil)
	if err != nil || len(rel) != 1 {
		t.Fatalf("gc: %v %+v", err, rel)
	}
	waitEndpoints(t, d.client, 1)

	ok, err := d.client.Release(ctx, req.AttachmentID)
	if err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}
	ok, err = d.client.Release(ctx, req.AttachmentID)
	if err != nil || ok {
		t.Fatalf("second release must succeed with released=false: %v %v", ok, err)
	}
	waitEndpoints(t, d.client, 0)

	want := "addr 9.0.0.1/24 dev m-dcos\naddr fd01:b::1/80 dev m-dcos6\nbridge m-dcos mtu 1420 mac 0a:58:09:00:00:01\nbridge m-dcos6 mtu 1420 mac 0a:58:00:00:00:01\nforwarding ipv4=true ipv6=true\nmasquerade 9.0.0.0/8\nmasquerade fd01:b::/64\nvtep vtep1024 id 1024 port 64000 local 198.18.0.1 mac 70:b3:d5:80:00:01 addr 44.128.0.1/20 addr fd01:a::1/64 mtu 1450 notrack\n"
	if got := d.kernel.String(); got != want {
		t.Errorf("kernel state:\n%s\nwant:\n%s", got, want)
	}
}

func waitEndpoints(t *testing.T, c *api.Client, n int) {
	t.Helper()
	var eps []api.Endpoint
	for i := 0; i < 200; i++ {
		var err error
		eps, err = c.Endpoints(context.Background())
		if err == nil && len(eps) == n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("want %d endpoint records, have %+v", n, eps)
}

// TestDaemonRestartKeepsStateAndLease: a restarted overlayd keeps its
// subnet, its allocations and its liveness lease, so its records never blink.
func TestDaemonRestartKeepsStateAndLease(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	cfg := testConfig(t)
	state, run := t.TempDir(), t.TempDir()
	d := startDaemon(t, cfg, state, run)
	ctx := context.Background()
	r1, err := d.client.Allocate(ctx, api.AllocateRequest{AttachmentID: api.AttachmentID{Network: "dcos", ContainerID: "c1", IfName: "eth0"}})
	if err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, d.client, 1)
	d.stop()

	d2 := startDaemon(t, cfg, state, run)
	r2, err := d2.client.Attachment(ctx, r1.Attachment.AttachmentID)
	if err != nil || r2.IPs[0] != r1.Attachment.IPs[0] {
		t.Fatalf("attachment after restart: %+v %v", r2, err)
	}
	ns, _ := d2.client.Networks(ctx)
	if ns[0].NodeSubnet != r1.Network.NodeSubnet {
		t.Fatalf("subnet changed over restart: %s -> %s", r1.Network.NodeSubnet, ns[0].NodeSubnet)
	}
	waitEndpoints(t, d2.client, 1)
	// The record is bound to the same lease as before the restart.
	store, err := cluster.Connect(cluster.Options{Endpoints: []string{cfg.Etcd.ClientURL}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	resp, err := store.Client.Get(ctx, cluster.EndpointsPrefix, clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("records: %v %v", resp, err)
	}
	alive, err := store.Client.Get(ctx, cluster.AlivePrefix+"node-a")
	if err != nil || len(alive.Kvs) != 1 || alive.Kvs[0].Lease != resp.Kvs[0].Lease {
		t.Fatalf("endpoint lease %x differs from liveness lease: %+v", resp.Kvs[0].Lease, alive)
	}
}

// TestDaemonReclaimsDepartedNode: a node with no liveness key whose record
// is older than the grace period loses its subnet and VTEP.
func TestDaemonReclaimsDepartedNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	cfg := testConfig(t)
	cfg.LeaseTTL = config.Duration{Duration: 2 * time.Second}
	cfg.NodeGracePeriod = config.Duration{Duration: 2 * time.Second}
	d := startDaemon(t, cfg, t.TempDir(), t.TempDir())
	store, err := cluster.Connect(cluster.Options{Endpoints: []string{cfg.Etcd.ClientURL}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	sub, err := alloc.LeaseSubnet(ctx, store, "dcos", "ghost", netip.MustParsePrefix("9.0.0.0/8"), 24, netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	ghost := cluster.Node{Name: "ghost", UnderlayIP: "198.18.0.9", Subnets: map[string][]string{"dcos": {sub.String()}}}
	b := mustJSON(ghost)
	// Written with an Updated time far in the past, as a node gone for long.
	old := strings.Replace(string(b), `"updated":"0001-01-01T00:00:00Z"`, `"updated":"2020-01-01T00:00:00Z"`, 1)
	if _, err := store.Client.Put(ctx, cluster.NodesPrefix+"ghost", old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := store.Client.Get(ctx, cluster.SubnetKey("dcos", sub))
		if err == nil && len(resp.Kvs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subnet %s of the departed node was not reclaimed", sub)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ns, _ := d.client.Nodes(ctx)
	for _, n := range ns {
		if n.Name == "ghost" {
			t.Fatalf("ghost still listed: %+v", n)
		}
	}
}

func TestMTUWarnings(t *testing.T) {
	d := &Daemon{cfg: config.Default(), underlayMTU: 1450}
	d.cfg.Overlays[0].MTU = 1420
	w := d.mtuWarnings()
	if len(w) != 1 || !strings.Contains(w[0], "mtu 1420 does not fit the underlay (mtu 1450 minus 50 bytes of VxLAN = 1400)") {
		t.Fatalf("warnings: %q", w)
	}
	d.underlayMTU = 1500
	if w := d.mtuWarnings(); len(w) != 0 {
		t.Fatalf("1420 fits a 1500 underlay: %q", w)
	}
}

func TestResolveAutoMTU(t *testing.T) {
	cfg, _ := config.Load("")
	cfg.Overlays[0].MTU = config.AutoMTU
	d := &Daemon{cfg: cfg, underlayMTU: 9000, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		networks: map[string]*network{"dcos": {cfg: cfg.Overlays[0]}, "dcos6": {cfg: cfg.Overlays[1]}}}
	d.resolveAutoMTU()
	if d.cfg.Overlays[0].MTU != 8950 || d.networks["dcos"].info().MTU != 8950 || d.cfg.Overlays[1].MTU != 1420 {
		t.Fatalf("auto mtu over a 9000 underlay: %v %v %v", d.cfg.Overlays[0].MTU, d.networks["dcos"].info().MTU, d.cfg.Overlays[1].MTU)
	}
	if w := d.mtuWarnings(); len(w) != 0 {
		t.Fatalf("auto mtu must fit: %q", w)
	}
}

// TestDaemonPeerFastPath: with the periodic reconcile far away, a peer's
// node record appearing, changing and leaving reaches the kernel through
// the peers-only fast path.
func TestDaemonPeerFastPath(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	cfg := testConfig(t)
	cfg.ReconcileInterval = config.Duration{Duration: time.Hour}
	d := startDaemon(t, cfg, t.TempDir(), t.TempDir())
	store, err := cluster.Connect(cluster.Options{Endpoints: []string{cfg.Etcd.ClientURL}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	peer := cluster.Node{Name: "peer", UnderlayIP: "198.18.0.2", VTEPIP: "44.128.0.9", VTEPMAC: "70:b3:d5:80:00:09",
		Subnets: map[string][]string{"dcos": {"9.0.9.0/24"}}}
	put := func(n cluster.Node) {
		if err := alloc.PutNode(ctx, store, n); err != nil {
			t.Fatal(err)
		}
	}
	waitKernel := func(want string, present bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got := d.kernel.String()
			if strings.Contains(got, want) == present {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("kernel (want %q present=%v):\n%s", want, present, got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	put(peer)
	waitKernel("fdb 70:b3:d5:80:00:09 dst 198.18.0.2 dev vtep1024", true)
	waitKernel("route 9.0.9.0/24 via 44.128.0.9 dev vtep1024 onlink", true)
	peer.UnderlayIP = "198.18.0.3"
	put(peer)
	waitKernel("fdb 70:b3:d5:80:00:09 dst 198.18.0.3 dev vtep1024", true)
	if _, err := alloc.RemoveNode(ctx, store, "peer"); err != nil {
		t.Fatal(err)
	}
	waitKernel("vtep1024 onlink", false)
}

// lockedFake serialises the daemon's reconcile goroutine and the test's
// reads of the fake kernel.
type lockedFake struct {
	mu sync.Mutex
	f  *datapath.Fake
}

var _ datapath.Kernel = (*lockedFake)(nil)

func (l *lockedFake) EnsureBridge(b datapath.Bridge) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.EnsureBridge(b)
}

func (l *lockedFake) EnsureMasquerade(m datapath.Masquerade) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.EnsureMasquerade(m)
}

func (l *lockedFake) EnsureForwarding(v6 bool) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.EnsureForwarding(v6)
}

func (l *lockedFake) EnsureVTEP(v datapath.VTEP) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.EnsureVTEP(v)
}

func (l *lockedFake) EnsurePeers(v datapath.VTEP, want datapath.PeerState) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.EnsurePeers(v, want)
}

func (l *lockedFake) ApplyPeerChanges(v datapath.VTEP, c datapath.PeerChanges) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.ApplyPeerChanges(v, c)
}

func (l *lockedFake) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.String()
}

// gatedKernel holds every bridge change until open is closed.
type gatedKernel struct {
	*lockedFake
	open chan struct{}
}

func (g *gatedKernel) EnsureBridge(b datapath.Bridge) (bool, error) {
	<-g.open
	return g.lockedFake.EnsureBridge(b)
}

// TestDaemonAllocatesOnlyOnReadyBridge: addresses are handed out only once
// the node subnet is on its bridge (gateway address and MAC in place).
func TestDaemonAllocatesOnlyOnReadyBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	cfg := testConfig(t)
	k := &gatedKernel{lockedFake: &lockedFake{f: datapath.NewFake()}, open: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	run := t.TempDir()
	go func() {
		done <- Run(ctx, Options{Config: cfg, RunDir: run, StateDir: t.TempDir(), Kernel: k,
			Log: slog.New(slog.NewTextHandler(testLogOut, nil))})
	}()
	var release sync.Once
	defer func() { release.Do(func() { close(k.open) }); cancel(); <-done }()
	c := api.NewClient(filepath.Join(run, socketFile))
	req := api.AllocateRequest{AttachmentID: api.AttachmentID{Network: "dcos", ContainerID: "early", IfName: "eth0"}}
	var err error
	for i := 0; i < 300; i++ {
		if _, err = c.Allocate(ctx, req); api.IsCode(err, api.CodeUnavailable) && strings.Contains(err.Error(), "not on bridge") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !api.IsCode(err, api.CodeUnavailable) || !strings.Contains(err.Error(), "not on bridge m-dcos yet") {
		t.Fatalf("allocation before the bridge is ready: %v", err)
	}
	if ns, _ := c.Networks(ctx); ns[0].NodeSubnet != "" {
		t.Fatalf("networks show a subnet before it is on the bridge: %+v", ns[0])
	}
	release.Do(func() { close(k.open) })
	for i := 0; i < 300; i++ {
		if _, err = c.Allocate(ctx, req); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("allocation after the bridge is ready: %v", err)
}
