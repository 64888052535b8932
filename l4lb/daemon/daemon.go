package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/l4lb/vroute"
)

// Defaults of Options.
const (
	// DefaultHTTPAddr is where the HTTP API listens.
	DefaultHTTPAddr     = l4lbapi.DefaultAddr
	DefaultSyncInterval = 10 * time.Second
	// DefaultReleaseGrace is how long a named VIP may have no backend
	// anywhere before its addresses and name are released.
	DefaultReleaseGrace = 15 * time.Minute
	// debounceDelay gathers a burst of store changes into one sync.
	debounceDelay = 5 * time.Millisecond
	httpShutdown  = 2 * time.Second
)

// Options configure a Daemon.
type Options struct {
	Store *cluster.Store
	// Kernel is the node's nftables (dataplane.NewNFTables in production).
	Kernel dataplane.Kernel
	// Conntrack, when set, lets the daemon delete the conntrack entries
	// of UDP flows whose backend left (see dataplane.NewSyncer).
	Conntrack dataplane.Conntrack
	// Routes, when set, routes the named VIP ranges and every IP VIP to
	// the minuteman link (vroute.Netlink in production), so that clients
	// without a default route reach them.
	Routes vroute.Kernel
	// Node is the node's name, as overlayd's; "" means the host name
	// (dcnet-l4lb --node-name).
	Node string
	// HTTPAddr serves /v1/vips and /metrics; "" disables it.
	HTTPAddr string
	// SyncInterval is the periodic reconcile that repairs the nftables
	// tables (0 means DefaultSyncInterval; negative is invalid).
	SyncInterval time.Duration
	// Mesos, when its Agent URL is set, polls the node's Mesos agent and
	// publishes its tasks' VIP backends for every node.
	Mesos AgentOptions
	// ReleaseGrace: a named VIP without a backend anywhere for longer
	// loses its addresses and name record (0 means DefaultReleaseGrace,
	// negative never releases).
	ReleaseGrace time.Duration
	// FailOpenHold bounds how long a VIP whose backends all vanished with
	// their nodes' liveness stays programmed (0 means DefaultFailOpenHold,
	// negative holds until the backends return).
	FailOpenHold time.Duration
	// RejectGrace bounds how long a VIP whose last backend went keeps
	// refusing new connections before it is withdrawn (0 means
	// DefaultRejectGrace, negative keeps it until a named VIP's release; an
	// IP VIP then stays until dcnet-l4lb restarts).
	RejectGrace time.Duration
	Log         *slog.Logger
}

// Daemon is one node's dcnet-l4lb.
type Daemon struct {
	opts      Options
	log       *slog.Logger
	endpoints *recordCache
	alive     *cluster.Cache
	// vips mirrors both cluster.VIPsPrefix and cluster.VIPNamesPrefix in one watch, so
	// that a release (one transaction over both) is seen at once.
	vips      *cluster.Cache
	mesos     *recordCache
	caches    []cache
	agent     *agentSource // nil without a Mesos agent
	publisher *cluster.Publisher
	syncer    *dataplane.Syncer
	routes    *vroute.Syncer // nil without Options.Routes
	metrics   *metrics
	releaser  *releaser
	holder    *holder
	rejecter  *rejecter
	conflicts *conflicts
	applied   *applied
	kick      chan struct{}
	// dirty is set by every cache change: the next sync computes the
	// plan again instead of reusing the last one.
	dirty atomic.Bool
	// last is the last computed state (sync loop only).
	last *computed
	// programmedFrom is the computed state last published to services,
	// programmed and the gauges (sync loop only).
	programmedFrom *computed

	mu       sync.RWMutex
	services []Service // last programmed
	refused  []Conflict
	// programmed holds the addresses of the VIPs in the kernel after the
	// last successful sync (see Programmed).
	programmed map[netip.Addr]struct{}
	syncs      int
}

// cache is a mirror of a store prefix: cluster.Cache or recordCache.
type cache interface {
	Run(ctx context.Context)
	Synced() bool
}

// computed is what a sync derives from the caches: reused as it is by the
// next syncs while no cache changes.
type computed struct {
	services []Service
	// refused are the IP VIPs left out because a named VIP holds their
	// address.
	refused []Conflict
	missing []AllocKey
	// retry is set when an address allocation failed: the next sync
	// computes again, whatever changed.
	retry bool
	plan  dataplane.Plan
	// rev is the revision of the endpoint records it was computed from
	// (read before them).
	rev int64
}

// New returns a Daemon; Run starts it.
func New(opts Options) (*Daemon, error) {
	if opts.Store == nil || opts.Kernel == nil {
		return nil, errors.New("l4lb daemon: store and kernel are required")
	}
	if opts.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("l4lb daemon: no node name given and no host name: %w", err)
		}
		opts.Node = h
	}
	if opts.Node == "" || strings.Contains(opts.Node, "/") {
		return nil, fmt.Errorf("l4lb daemon: node name %q: want a non-empty name without '/'", opts.Node)
	}
	if opts.SyncInterval < 0 {
		return nil, fmt.Errorf("l4lb daemon: sync interval %s: must not be negative (0: the default %s)", opts.SyncInterval, DefaultSyncInterval)
	}
	if opts.Mesos.Poll < 0 {
		return nil, fmt.Errorf("l4lb daemon: mesos poll interval %s: must not be negative (0: the default %s)", opts.Mesos.Poll, DefaultMesosPoll)
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.ReleaseGrace == 0 {
		opts.ReleaseGrace = DefaultReleaseGrace
	}
	if opts.FailOpenHold == 0 {
		opts.FailOpenHold = DefaultFailOpenHold
	}
	if opts.RejectGrace == 0 {
		opts.RejectGrace = DefaultRejectGrace
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	d := &Daemon{opts: opts, log: opts.Log, kick: make(chan struct{}, 1)}
	d.metrics = newMetrics(d)
	d.syncer = dataplane.NewSyncer(opts.Kernel, opts.Conntrack)
	if opts.Routes != nil {
		d.routes = vroute.NewSyncer(opts.Routes)
	}
	d.holder = newHolder(opts.FailOpenHold)
	d.rejecter = newRejecter(opts.RejectGrace)
	d.conflicts = newConflicts()
	d.applied = newApplied(opts.Store, opts.Node, d.log)
	d.endpoints = newRecordCache(opts.Store, cluster.EndpointsPrefix, "endpoint", decodeEndpointRecord(d.log), d.log)
	d.alive = cluster.NewCache(opts.Store, cluster.AlivePrefix, d.log)
	d.vips = cluster.NewCache(opts.Store, cluster.VIPAndNamesPrefix, d.log)
	d.mesos = newRecordCache(opts.Store, cluster.MesosBackendsPrefix, "mesos backend", decodeMesosRecord, d.log)
	d.caches = []cache{d.endpoints, d.alive, d.vips, d.mesos}
	d.dirty.Store(true)
	d.endpoints.OnChange = d.changed
	d.vips.OnChange = d.changed
	d.mesos.OnChange = d.changed
	d.alive.OnChange = d.changed
	if opts.Mesos.Agent != "" {
		a, err := newAgentSource(opts.Mesos, opts.Node, d.log)
		if err != nil {
			return nil, err
		}
		a.onPoll = d.metrics.polled
		d.agent = a
		d.publisher = cluster.NewPublisher(opts.Store, cluster.NodeMesosBackendsPrefix(opts.Node), d.nodeLease, a.records, d.log)
		a.onChange = d.publisher.Kick
		d.alive.OnChange = func() { d.changed(); d.publisher.Kick() }
	}
	if opts.ReleaseGrace > 0 {
		d.releaser = newReleaser(opts.ReleaseGrace)
	}
	return d, nil
}

// changed marks the inputs changed and kicks a sync.
func (d *Daemon) changed() {
	d.dirty.Store(true)
	d.Kick()
}

// Kick asks for a sync soon; safe to call any time.
func (d *Daemon) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends. It fails only if the HTTP address cannot be
// bound; store, agent and kernel errors are logged and retried.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var srv *http.Server
	if d.opts.HTTPAddr != "" {
		ln, err := net.Listen("tcp", d.opts.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", d.opts.HTTPAddr, err)
		}
		srv = &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); srv.Serve(ln) }()
	}
	for _, c := range d.caches {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.applied.Run(ctx) }()
	if d.agent != nil {
		wg.Add(2)
		go func() { defer wg.Done(); d.agent.Run(ctx) }()
		go func() {
			defer wg.Done()
			// Publish only once the agent answered: records of a previous
			// run stay until then instead of blinking out.
			select {
			case <-d.agent.ready:
				d.publisher.Run(ctx, d.opts.SyncInterval)
			case <-ctx.Done():
			}
		}()
	}
	d.log.Info("dcnet-l4lb started", "node", d.opts.Node, "store", d.opts.Store.String(), "http", d.opts.HTTPAddr,
		"mesos_agent", d.opts.Mesos.Agent)
	tick := time.NewTicker(d.opts.SyncInterval)
	defer tick.Stop()
	for {
		reconcile := false
		select {
		case <-ctx.Done():
			// The HTTP server is one of wg's goroutines: stop it first.
			if srv != nil {
				sctx, c := context.WithTimeout(context.Background(), httpShutdown)
				srv.Shutdown(sctx)
				c()
			}
			cancel()
			wg.Wait()
			d.log.Info("dcnet-l4lb stopped", "node", d.opts.Node)
			return nil
		case <-d.kick:
			time.Sleep(debounceDelay)
			select {
			case <-d.kick:
			default:
			}
		case <-tick.C:
			reconcile = true
		}
		d.sync(ctx, reconcile)
	}
}

// synced reports whether every cache has been filled once.
func (d *Daemon) synced() bool {
	for _, c := range d.caches {
		if !c.Synced() {
			return false
		}
	}
	return true
}

// sync computes, allocates, plans and applies once; with reconcile it
// also reads the kernel back and repairs it. While no cache changed since
// the last sync, it reuses the last plan (a tick then costs the read-back
// alone).
func (d *Daemon) sync(ctx context.Context, reconcile bool) {
	if !d.synced() {
		return
	}
	c := d.last
	if d.dirty.Swap(false) || c == nil || c.retry {
		c = d.compute(ctx)
		d.last = c
	}
	if err := d.apply(c.plan, reconcile); err != nil {
		d.metrics.failed(stageKernel)
		d.log.Error("sync nftables, retrying at the next change or tick", "err", err)
		return
	}
	if d.routes != nil {
		d.applyRoutes(c.plan, reconcile)
	}
	if c != d.programmedFrom {
		programmed := programmedAddrs(c.plan)
		d.mu.Lock()
		d.services, d.refused, d.programmed = c.services, c.refused, programmed
		d.mu.Unlock()
		d.metrics.programmed(c.services, len(c.refused))
		d.programmedFrom = c
	}
	d.mu.Lock()
	d.syncs++
	d.mu.Unlock()
	d.applied.set(c.rev)
	d.publishNames(ctx, c.services)
	if d.releaser != nil {
		d.release(ctx, c.services, c.missing)
	}
}

// compute reads the caches (decoding only the records that changed),
// allocates missing named VIP addresses and plans.
func (d *Daemon) compute(ctx context.Context) *computed {
	in := Input{Alive: map[string]bool{}}
	rev := d.endpoints.Revision()
	// Mesos backends first: a named VIP declared by both takes the
	// spelling of the first (see Desired).
	in.Records = d.endpoints.Bindings(d.mesos.Bindings(nil))
	for _, kv := range d.alive.List("") {
		in.Alive[strings.TrimPrefix(kv.Key, cluster.AlivePrefix)] = true
	}
	var owners map[netip.Addr]string
	in.Addrs, owners = parseAllocs(d.vips.List(""))
	c := &computed{}
	services, missing, _ := Desired(in)
	if len(missing) > 0 {
		// Never hand out an address an IP VIP already uses.
		used := usedAddrs(owners)
		for _, s := range services {
			if !s.Key.IsNamed() {
				used[s.Addr] = true
			}
		}
		got, errs := allocateAll(ctx, d.opts.Store.Client, missing, used)
		for k, a := range got {
			in.Addrs[k] = a
			owners[a] = k.Name
		}
		for k, err := range errs {
			d.metrics.failed(stageAllocate)
			d.log.Warn("named vip address", "vip", k.Name, "family", k.Family.String(), "err", err)
			c.retry = true
		}
		services, _, _ = Desired(in)
	}
	now := time.Now()
	services, refused := refuseHeld(services, owners)
	var fresh []Conflict
	c.refused, fresh = d.conflicts.track(refused, now)
	for _, r := range fresh {
		d.log.Warn("ip vip refused: its address belongs to a named vip, which keeps its traffic and name",
			"vip", r.Key.String(), "held_by", r.HeldBy, "backends", len(r.All))
	}
	services, held := d.holder.apply(services, in.Alive, now)
	if held > 0 {
		d.log.Warn("vips kept (fail open): every backend vanished with its node's liveness", "vips", held, "hold", d.opts.FailOpenHold)
	}
	services, rejecting := d.rejecter.apply(services, in.Addrs, now)
	if held > 0 || rejecting > 0 {
		// Their time runs out without any change: compute at every sync.
		c.retry = true
	}
	sortServices(services)
	plan, errs := dataplane.Build(Plan(services, d.opts.Node))
	for _, err := range errs {
		d.log.Warn("vip not programmed", "err", err)
	}
	if len(errs) > 0 {
		// What the plan refused is neither listed nor named: a name must
		// never lead to an address this node does not answer.
		services = inPlan(services, plan)
	}
	c.services, c.missing, c.plan, c.rev = services, missing, plan, rev
	return c
}

// sortServices sorts services as Desired does (the held and rejecting ones
// are appended after it).
func sortServices(services []Service) {
	slices.SortFunc(services, func(a, b Service) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Key.Protocol, b.Key.Protocol), cmp.Compare(a.Key.Port, b.Key.Port),
			cmp.Compare(a.Key.Name, b.Key.Name))
	})
}

// applyRoutes routes the named ranges and the IP VIPs of plan to the
// minuteman link (with reconcile: read back and repaired). A failure is
// logged and retried at the next sync; the VIPs stay programmed.
func (d *Daemon) applyRoutes(plan dataplane.Plan, reconcile bool) {
	var addrs []netip.Addr
	for _, t := range plan.Tables {
		for k := range t.VIPs {
			addrs = append(addrs, k.Addr)
		}
	}
	want := vroute.Plan([]netip.Prefix{Range4, Range6}, addrs)
	var r vroute.Result
	var err error
	if reconcile {
		r, err = d.routes.Reconcile(want)
	} else {
		r, err = d.routes.Apply(want)
	}
	if r.Changed() {
		d.log.Info("vip routes applied", "link", vroute.LinkName, "added", r.Added, "deleted", r.Deleted, "link_changed", r.LinkChanged,
			"routes", len(want))
	}
	if err != nil {
		d.metrics.failed(stageRoutes)
		d.log.Warn("vip routes, retrying at the next sync", "err", err)
	}
}

// programmedAddrs returns the addresses of the VIPs of p.
func programmedAddrs(p dataplane.Plan) map[netip.Addr]struct{} {
	n := 0
	for _, t := range p.Tables {
		n += len(t.VIPs)
	}
	out := make(map[netip.Addr]struct{}, n)
	for _, t := range p.Tables {
		for k := range t.VIPs {
			out[k.Addr] = struct{}{}
		}
	}
	return out
}

// Programmed reports whether a is the address of at least one VIP in the
// kernel as of the last successful sync (nftables Apply, or Reconcile on
// the timer). It is one map lookup under a read lock.
func (d *Daemon) Programmed(a netip.Addr) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.programmed[a.Unmap()]
	return ok
}

// apply programs plan: Apply (a diff against the Syncer's memory, no
// read-back), then, with reconcile, a read-back that repairs hand damage:
// what Reconcile still changes after Apply counts as repairs.
func (d *Daemon) apply(plan dataplane.Plan, reconcile bool) error {
	start := time.Now()
	defer func() { d.metrics.syncDur.Observe(time.Since(start).Seconds()) }()
	res, err := d.syncer.Apply(plan)
	d.logResults("nftables applied", res, start)
	if err != nil {
		return err
	}
	if !reconcile {
		return nil
	}
	res, err = d.syncer.Reconcile(plan)
	d.logResults("nftables repaired", res, start)
	for _, r := range res {
		n := r.Changes
		if r.Rebuilt {
			n = max(n, 1)
		}
		d.metrics.repairs.Add(float64(n))
	}
	return err
}

func (d *Daemon) logResults(msg string, res []dataplane.Result, start time.Time) {
	for _, r := range res {
		if r.Rebuilt || r.Changes > 0 || r.StaleFlows > 0 {
			d.log.Info(msg, "family", r.Family.String(), "rebuilt", r.Rebuilt, "changes", r.Changes,
				"stale_udp_flows", r.StaleFlows, "took", time.Since(start))
		}
		if r.ConntrackErr != nil {
			d.metrics.failed(stageConntrack)
			d.log.Warn("delete stale udp conntrack entries, retrying at the next sync", "err", r.ConntrackErr)
		}
	}
}

// inPlan keeps the services that plan programs: for services sharing an
// address, protocol and port, the first, as dataplane.Build does.
func inPlan(services []Service, plan dataplane.Plan) []Service {
	proto := map[string]uint8{vip.ProtoTCP: unix.IPPROTO_TCP, vip.ProtoUDP: unix.IPPROTO_UDP}
	claimed := map[dataplane.ServiceKey]bool{}
	out := services[:0:0]
	for _, s := range services {
		k := dataplane.ServiceKey{Addr: s.Addr.Unmap(), Proto: proto[s.Key.Protocol], Port: s.Key.Port}
		if _, ok := plan.Tables[familyOf(k.Addr)].VIPs[k]; !ok || claimed[k] {
			continue
		}
		claimed[k] = true
		out = append(out, s)
	}
	return out
}
