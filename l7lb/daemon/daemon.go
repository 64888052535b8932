package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/dcnet/dcnet/l7lb/build"
	"github.com/dcnet/dcnet/l7lb/endpoints"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/marathon"
	"github.com/dcnet/dcnet/l7lb/mesos"
	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/pools"
	"github.com/dcnet/dcnet/l7lb/source"
)

// Defaults of Options.
const (
	// DefaultSyncInterval is the period of the rebuild and apply that
	// runs even when no source changed (it proves the sources current and
	// repairs an HAProxy that lost its state).
	DefaultSyncInterval = 30 * time.Second
	// DefaultStaleAfter is the staleness bound of the health endpoint.
	DefaultStaleAfter = 3 * time.Minute
	// DefaultDebounce gathers a burst of source changes into one build.
	DefaultDebounce = 5 * time.Millisecond
	// applyTimeout bounds one Apply (a reload waits for HAProxy).
	applyTimeout = 2 * time.Minute
	httpShutdown = 2 * time.Second
)

// Options configure a Daemon. Exactly one mode: Pool set (pool mode,
// PoolSource required) or not (Marathon-LB mode, Marathon required).
type Options struct {
	// Pool is the pool served; "" is Marathon-LB mode.
	Pool string
	// MarathonLB configures Marathon-LB mode.
	MarathonLB build.MarathonLB
	// The sources; nil when not configured.
	Marathon   *marathon.Source
	Mesos      *mesos.Source
	Endpoints  *endpoints.Source
	PoolSource *pools.Source
	// PoolStore serves the pools API; nil answers 503.
	PoolStore *pools.Store
	// Applier makes HAProxy serve each Config. When it also has
	// Run(ctx) (background work) the daemon runs it, and when it has
	// Collector() its metrics join /metrics.
	Applier model.Applier
	// HTTPAddr serves the API; "" serves none.
	HTTPAddr string
	// StateDir keeps the last good configuration (last-config.json);
	// "" keeps none.
	StateDir     string
	SyncInterval time.Duration
	StaleAfter   time.Duration
	Debounce     time.Duration
	// ReadFile reads certificate files (nil: os.ReadFile).
	ReadFile func(string) ([]byte, error)
	Log      *slog.Logger
}

// Daemon is one dcnet-l7lb instance.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	sources []source.Source
	metrics *metrics
	kick    chan struct{}
	started time.Time

	// Sync loop only.
	notes    map[string]string
	problems map[model.Problem]bool
	saved    string // fingerprint of the last saved configuration

	mu     sync.RWMutex
	status state
	// config is the Config last applied with success.
	config model.Config
}

// state is what the status page shows beyond the sources.
type state struct {
	lastSync       time.Time
	applies        int
	reloads        int
	runtimeChanges int
	lastApplyErr   string
	fromDisk       bool
	waiting        string
	problems       []model.Problem
}

// New checks opts and returns a Daemon; Run starts it.
func New(opts Options) (*Daemon, error) {
	if opts.Applier == nil {
		return nil, errors.New("l7lb daemon: an applier is required")
	}
	switch {
	case opts.Pool != "" && opts.PoolSource == nil:
		return nil, fmt.Errorf("l7lb daemon: pool %s needs the pool source (etcd)", opts.Pool)
	case opts.Pool == "" && opts.Marathon == nil:
		return nil, errors.New("l7lb daemon: Marathon-LB mode needs a Marathon (--marathon), or serve a pool (--pool)")
	case opts.Pool == "" && len(opts.MarathonLB.Groups) == 0:
		return nil, errors.New("l7lb daemon: Marathon-LB mode needs at least one group (--group external, or '*' for every app)")
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	d := &Daemon{opts: opts, log: opts.Log, kick: make(chan struct{}, 1), started: time.Now(),
		notes: map[string]string{}, problems: map[model.Problem]bool{}}
	if s := opts.Marathon; s != nil {
		d.sources = append(d.sources, s)
		s.SetOnChange(d.Kick)
	}
	if s := opts.Mesos; s != nil {
		d.sources = append(d.sources, s)
		s.SetOnChange(d.Kick)
	}
	if s := opts.Endpoints; s != nil {
		d.sources = append(d.sources, s)
		s.OnChange = d.Kick
	}
	if s := opts.PoolSource; s != nil {
		d.sources = append(d.sources, s)
		s.OnChange = d.Kick
	}
	d.metrics = newMetrics(d)
	return d, nil
}

// Kick asks for a build soon; safe to call any time, from any goroutine.
// New makes every source call it after each change.
func (d *Daemon) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run serves until ctx ends. It fails only when the HTTP address cannot
// be bound; source and applier failures are logged, counted and retried.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if d.opts.HTTPAddr != "" {
		ln, err := net.Listen("tcp", d.opts.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", d.opts.HTTPAddr, err)
		}
		srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); srv.Serve(ln) }()
		defer func() {
			sctx, c := context.WithTimeout(context.Background(), httpShutdown)
			defer c()
			srv.Shutdown(sctx)
		}()
		d.log.Info("dcnet-l7lb API listening", "addr", ln.Addr().String())
	}
	for _, s := range d.sources {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	if r, ok := d.opts.Applier.(interface{ Run(context.Context) }); ok {
		// The applier's background work (l7lb/apply: debounced reloads,
		// drains, recovery after an HAProxy restart).
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	d.applySaved(ctx)
	tick := time.NewTicker(d.opts.SyncInterval)
	defer tick.Stop()
	d.Kick()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
			if !source.Sleep(ctx, d.opts.Debounce) {
				return nil
			}
			select {
			case <-d.kick: // changes during the debounce are in this build
			default:
			}
		case <-tick.C:
		}
		d.sync(ctx)
	}
}

// allSynced says which needed sources have not delivered a full view
// yet ("" when all have).
func (d *Daemon) allSynced() string {
	var waiting []string
	for _, s := range d.needed() {
		if !s.Synced() {
			waiting = append(waiting, s.Name())
		}
	}
	if len(waiting) == 0 {
		return ""
	}
	return fmt.Sprint(waiting)
}

// needed are the sources the build reads: Marathon in Marathon-LB mode;
// in pool mode the pool and the sources its services select from.
func (d *Daemon) needed() []source.Source {
	if d.opts.Pool == "" {
		return []source.Source{d.opts.Marathon}
	}
	out := []source.Source{d.opts.PoolSource}
	p, ok, _ := d.opts.PoolSource.Pool()
	if !ok {
		return out
	}
	uses := poolUses(p)
	if uses.marathon && d.opts.Marathon != nil {
		out = append(out, d.opts.Marathon)
	}
	if uses.mesos && d.opts.Mesos != nil {
		out = append(out, d.opts.Mesos)
	}
	if uses.records && d.opts.Endpoints != nil {
		out = append(out, d.opts.Endpoints)
	}
	return out
}

// uses says which sources a pool's services select from.
type uses struct{ marathon, mesos, records bool }

func poolUses(p l7lbapi.Pool) uses {
	var u uses
	for _, b := range p.HAProxy.Backends {
		for _, s := range b.Services {
			u.marathon = u.marathon || s.Marathon != nil
			u.mesos = u.mesos || s.Mesos != nil
			u.records = u.records || s.VIP != "" || s.EndpointLabel != nil
		}
	}
	return u
}

// Config returns the configuration last applied with success.
func (d *Daemon) Config() model.Config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.config
}

// mode names the daemon's mode for the status page.
func (d *Daemon) mode() string {
	if d.opts.Pool != "" {
		return l7lbapi.ModePool
	}
	return l7lbapi.ModeMarathonLB
}
