package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/cluster"
)

// Defaults of Options.
const (
	DefaultHTTPAddr     = "127.0.0.1:62083"
	DefaultSyncInterval = 10 * time.Second
	// debounceDelay gathers a burst of store changes into one sync.
	debounceDelay = 5 * time.Millisecond
	httpShutdown  = 2 * time.Second
)

// Options configure a Daemon.
type Options struct {
	Store *cluster.Store
	// Kernel is the node's nftables (dataplane.NewNFTables in production).
	Kernel dataplane.Kernel
	Node   string
	// HTTPAddr serves /v1/vips; "" disables it.
	HTTPAddr     string
	SyncInterval time.Duration
	Log          *slog.Logger
}

// Daemon is one node's dcnet-l4lb.
type Daemon struct {
	opts      Options
	log       *slog.Logger
	endpoints *cluster.Cache
	alive     *cluster.Cache
	vips      *cluster.Cache
	kick      chan struct{}

	mu       sync.RWMutex
	services []Service // last programmed
	syncs    int
	// published is the last name record this node wrote, per name.
	published map[string]string
}

// New returns a Daemon; Run starts it.
func New(opts Options) (*Daemon, error) {
	if opts.Store == nil || opts.Kernel == nil {
		return nil, errors.New("l4lb daemon: store and kernel are required")
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	d := &Daemon{opts: opts, log: opts.Log, kick: make(chan struct{}, 1), published: map[string]string{}}
	d.endpoints = cluster.NewCache(opts.Store, cluster.EndpointsPrefix, d.log)
	d.alive = cluster.NewCache(opts.Store, cluster.AlivePrefix, d.log)
	d.vips = cluster.NewCache(opts.Store, VIPsPrefix, d.log)
	for _, c := range []*cluster.Cache{d.endpoints, d.alive, d.vips} {
		c.OnChange = d.Kick
	}
	return d, nil
}

// Kick asks for a sync soon; safe to call any time.
func (d *Daemon) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends. It fails only if the HTTP address cannot be
// bound; store and kernel errors are logged and retried.
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
	for _, c := range []*cluster.Cache{d.endpoints, d.alive, d.vips} {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
	}
	d.log.Info("dcnet-l4lb started", "node", d.opts.Node, "store", d.opts.Store.String(), "http", d.opts.HTTPAddr)
	tick := time.NewTicker(d.opts.SyncInterval)
	defer tick.Stop()
	for {
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
		}
		d.sync(ctx)
	}
}

// sync computes, allocates, plans and applies once.
func (d *Daemon) sync(ctx context.Context) {
	if !d.endpoints.Synced() || !d.alive.Synced() || !d.vips.Synced() {
		return
	}
	in := Input{Endpoints: d.readEndpoints(), Alive: map[string]bool{}}
	for _, kv := range d.alive.List("") {
		in.Alive[strings.TrimPrefix(kv.Key, cluster.AlivePrefix)] = true
	}
	var used map[netip.Addr]bool
	in.Addrs, used = parseAllocs(d.vips.List(""))
	services, missing, errs := Desired(in)
	for _, err := range errs {
		d.log.Debug("vip label ignored", "err", err)
	}
	if len(missing) > 0 {
		for _, k := range missing {
			a, err := allocate(ctx, d.opts.Store.Client, k, used)
			if err != nil {
				d.log.Warn("named vip address", "vip", k.Name, "family", k.Family.String(), "err", err)
				continue
			}
			in.Addrs[k] = a
		}
		services, _, _ = Desired(in)
	}
	plan, errs := dataplane.Build(Plan(services))
	for _, err := range errs {
		d.log.Warn("vip not programmed", "err", err)
	}
	start := time.Now()
	res, err := dataplane.Sync(d.opts.Kernel, plan)
	if err != nil {
		d.log.Error("sync nftables, retrying at the next change or tick", "err", err)
		return
	}
	for _, r := range res {
		if r.Rebuilt || r.Changes > 0 {
			d.log.Info("nftables synced", "family", r.Family.String(), "rebuilt", r.Rebuilt, "changes", r.Changes, "took", time.Since(start))
		}
	}
	d.mu.Lock()
	d.services = services
	d.syncs++
	d.mu.Unlock()
	d.publishNames(ctx, services)
}

func (d *Daemon) readEndpoints() []api.Endpoint {
	kvs := d.endpoints.List("")
	out := make([]api.Endpoint, 0, len(kvs))
	for _, kv := range kvs {
		var ep api.Endpoint
		if err := json.Unmarshal(kv.Value, &ep); err != nil {
			d.log.Warn("endpoint record ignored", "key", kv.Key, "err", err)
			continue
		}
		out = append(out, ep)
	}
	return out
}

// publishNames writes the name record of every named VIP just programmed,
// when it differs from what this node last wrote.
func (d *Daemon) publishNames(ctx context.Context, services []Service) {
	addrs := map[string][]string{}
	for _, s := range services {
		if s.Key.IsNamed() && !slices.Contains(addrs[s.Key.Name], s.Addr.String()) {
			addrs[s.Key.Name] = append(addrs[s.Key.Name], s.Addr.String())
		}
	}
	for name, as := range addrs {
		slices.Sort(as)
		rec := NameRecord{Name: name, Addrs: as}
		b, _ := json.Marshal(rec)
		if d.published[name] == string(b) {
			continue
		}
		if err := publishName(ctx, d.opts.Store.Client, rec); err != nil {
			d.log.Warn("publish vip name", "vip", name, "err", err)
			continue
		}
		d.published[name] = string(b)
		d.log.Info("vip name published", "vip", name, "addrs", strings.Join(as, ","))
	}
}
