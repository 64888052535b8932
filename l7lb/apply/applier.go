package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/render"
)

// Defaults of Options.
const (
	DefaultDrainTimeout      = 30 * time.Second
	DefaultMinReloadInterval = time.Second
	DefaultMaintainInterval  = 200 * time.Millisecond
	// keepGenerations is how many generation directories are kept.
	keepGenerations = 5
	// maxIsolationRounds bounds the `haproxy -c` rounds that drop one
	// refused part after another.
	maxIsolationRounds = 8
	maxReloadBackoff   = time.Minute
)

// HAProxy is the instance an Applier drives; *haproxy.Instance is one.
type HAProxy interface {
	// ConfigPath is the file HAProxy loads at every start and reload.
	ConfigPath() string
	// Running reports whether HAProxy runs.
	Running() bool
	// Start starts HAProxy on ConfigPath and waits until it serves.
	Start(ctx context.Context) error
	// Reload loads ConfigPath again and confirms it; a refusal leaves the
	// previous configuration serving.
	Reload(ctx context.Context) error
	// Check validates a configuration file (haproxy -c).
	Check(ctx context.Context, path string) error
	// Exec sends runtime-API commands, one reply each.
	Exec(ctx context.Context, cmds []haproxy.Command) ([]string, error)
	// Starts counts HAProxy's starts; a change means runtime state not in
	// the file was lost (a restart after a crash).
	Starts() uint64
}

var _ HAProxy = (*haproxy.Instance)(nil)

// Options configure an Applier.
type Options struct {
	// Dir holds the generations (Dir/gen/<n>/: haproxy.cfg, maps,
	// crt-lists, certs); HAProxy's ConfigPath is a copy of the current
	// one's haproxy.cfg.
	Dir string
	// Render are the instance-wide settings of the configuration; an
	// empty StatsSocket takes the HAProxy's own (*haproxy.Instance).
	Render render.Options
	// SlotStep is how many server slots a backend grows by (default 10).
	SlotStep int
	// DrainTimeout bounds how long a server that left drains before its
	// slot is freed, when its sessions do not end sooner (default 30 s).
	DrainTimeout time.Duration
	// MinReloadInterval debounces reloads: a structural change within it
	// of the last reload waits for the background loop (default 1 s;
	// negative: never wait).
	MinReloadInterval time.Duration
	Logger            *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Applier makes one HAProxy serve the Configs it is given, through the
// runtime API where it suffices and validated reloads otherwise. It
// implements model.Applier; Run does the debounced reloads, drains and
// restart recovery in the background.
type Applier struct {
	h    HAProxy
	rt   *haproxy.Runtime
	opts Options
	log  *slog.Logger

	mu sync.Mutex
	// cfg is the validated desired state; cfgProblems what was left out.
	cfg         model.Config
	cfgProblems []model.Problem
	haveCfg     bool
	want        map[string]*backendSlots
	loaded      *loadedState // nil before the first load
	live        liveState    // what HAProxy has now
	file        liveState    // what the current files say
	rejected    map[string]rejection
	// problems found while applying (runtime refusals), by kind/name.
	applyProblems map[string]model.Problem
	// refused are certificate contents HAProxy refused at runtime, by
	// path: not sent again until they change.
	refused map[string][]byte
	// goodCerts are the last valid contents of each certificate name.
	goodCerts map[string][]byte

	pending      bool // a structural change waits for a reload
	fileDirty    bool // runtime changes not yet in the files
	lastReload   time.Time
	nextTry      time.Time // earliest next reload attempt after failures
	failures     int
	starts       uint64
	gen          int
	metrics      counters
	wake         chan struct{}
	lastReloadOK bool
}

// liveState is the runtime part of HAProxy's state: server slots, map
// entries and certificate contents.
type liveState struct {
	slots map[string][]render.Slot
	maps  map[string][]render.MapEntry // by frontend
	certs map[string][]byte            // by path
	// crtLists are each TLS frontend's certificate paths, in order.
	crtLists map[string][]string
}

func (l liveState) clone() liveState {
	c := newLiveState()
	for k, v := range l.crtLists {
		c.crtLists[k] = append([]string(nil), v...)
	}
	for k, v := range l.slots {
		c.slots[k] = append([]render.Slot(nil), v...)
	}
	for k, v := range l.maps {
		c.maps[k] = append([]render.MapEntry(nil), v...)
	}
	for k, v := range l.certs {
		c.certs[k] = v
	}
	return c
}

func newLiveState() liveState {
	return liveState{slots: map[string][]render.Slot{}, maps: map[string][]render.MapEntry{},
		certs: map[string][]byte{}, crtLists: map[string][]string{}}
}

// loadedState is what the running configuration was rendered from.
type loadedState struct {
	gen      int
	dir      string
	cfg      model.Config // after isolation
	sig      string
	capacity map[string]int
	mapPaths map[string]string // frontend → map path
}

// New returns an Applier for h. Nothing happens until Apply.
func New(h HAProxy, opts Options) (*Applier, error) {
	if opts.Dir == "" {
		return nil, errors.New("apply: Options.Dir is required")
	}
	if s, ok := h.(interface{ StatsSocket() string }); ok && opts.Render.StatsSocket == "" {
		opts.Render.StatsSocket = s.StatsSocket()
	}
	if opts.Render.StatsSocket == "" {
		return nil, errors.New("apply: Options.Render.StatsSocket is required (the runtime API socket HAProxy's Exec uses)")
	}
	if opts.SlotStep <= 0 {
		opts.SlotStep = DefaultSlotStep
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.MinReloadInterval == 0 {
		opts.MinReloadInterval = DefaultMinReloadInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	gen, err := lastGeneration(opts.Dir)
	if err != nil {
		return nil, err
	}
	return &Applier{
		h: h, rt: &haproxy.Runtime{T: execTransport{h}}, opts: opts, log: opts.Logger,
		want: map[string]*backendSlots{}, rejected: map[string]rejection{},
		applyProblems: map[string]model.Problem{}, refused: map[string][]byte{}, goodCerts: map[string][]byte{}, gen: gen, wake: make(chan struct{}, 1),
	}, nil
}

// execTransport sends runtime commands through HAProxy.Exec.
type execTransport struct{ h HAProxy }

func (e execTransport) Exec(ctx context.Context, cmds []haproxy.Command) ([]string, error) {
	return e.h.Exec(ctx, cmds)
}

var _ model.Applier = (*Applier)(nil)

// Apply implements model.Applier: it validates cfg, sends the runtime
// changes the running configuration allows, and reloads when the
// structure changed (unless debounced: Result.ReloadPending, done by Run).
// The first Apply starts HAProxy. An error says what failed (a refused
// runtime command, a failed reload; also in Result.Problems): HAProxy
// keeps serving what it had plus every change that went through.
func (a *Applier) Apply(ctx context.Context, cfg model.Config) (model.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.opts.Now()
	given := cfg.Problems
	cfg = cloneConfig(cfg) // Normalize sorts in place: leave the caller's slices alone
	cfg.Normalize()
	certProblems := a.keepGoodCerts(&cfg)
	valid, problems := render.Validate(cfg)
	problems = append(certProblems, problems...)
	valid, rej := a.dropRejected(valid)
	a.cfg, a.haveCfg = valid, true
	a.cfgProblems = append(append(append([]model.Problem(nil), given...), problems...), rej...)
	a.assignAll(now)

	var res model.Result
	var err error
	if a.loaded == nil {
		err = a.reload(ctx, now)
		res.Reloaded = err == nil
	} else {
		a.checkRestart(ctx)
		res.RuntimeChanges, err = a.syncRuntime(ctx)
		if a.structureChanged() {
			a.pending = true
		}
		if a.pending && a.reloadAllowed(now) {
			rerr := a.reload(ctx, now)
			res.Reloaded = rerr == nil
			err = errors.Join(err, rerr)
		}
	}
	res.ReloadPending = a.pending
	res.Problems = a.problemsLocked()
	a.kick()
	return res, err
}

// keepGoodCerts replaces certificate contents that do not pass
// render.CheckPEM by the last good contents of the same name, if any, so
// that a bad renewal keeps the old certificate serving; it reports each.
func (a *Applier) keepGoodCerts(cfg *model.Config) []model.Problem {
	var problems []model.Problem
	for i := range cfg.Frontends {
		f := &cfg.Frontends[i]
		if f.TLS == nil {
			continue
		}
		t := &model.TLS{Certs: slices.Clone(f.TLS.Certs)}
		for j, c := range t.Certs {
			reason := render.CheckPEM(c.PEM)
			if reason == "" {
				a.goodCerts[c.Name] = c.PEM
				continue
			}
			if good, ok := a.goodCerts[c.Name]; ok {
				t.Certs[j].PEM = good
				problems = append(problems, model.Problem{Kind: "cert", Name: c.Name,
					Reason: "new contents refused, the previous certificate keeps serving: " + reason})
			}
		}
		f.TLS = t
	}
	return problems
}

// cloneConfig copies the lists of cfg that Normalize sorts.
func cloneConfig(cfg model.Config) model.Config {
	out := model.Config{Frontends: slices.Clone(cfg.Frontends), Backends: slices.Clone(cfg.Backends), Problems: slices.Clone(cfg.Problems)}
	for i := range out.Frontends {
		out.Frontends[i].Routes = slices.Clone(out.Frontends[i].Routes)
	}
	for i := range out.Backends {
		out.Backends[i].Servers = slices.Clone(out.Backends[i].Servers)
	}
	return out
}

// kick wakes Run.
func (a *Applier) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// assignAll updates the wanted slots of every backend of a.cfg.
func (a *Applier) assignAll(now time.Time) {
	next := map[string]*backendSlots{}
	for _, b := range a.cfg.Backends {
		next[b.Name] = assign(a.want[b.Name], b, a.opts.SlotStep, now)
	}
	a.want = next
}

// reloadAllowed says whether a reload may happen now (debounce and
// backoff after failures).
func (a *Applier) reloadAllowed(now time.Time) bool {
	if now.Before(a.nextTry) {
		return false
	}
	return a.opts.MinReloadInterval < 0 || now.Sub(a.lastReload) >= a.opts.MinReloadInterval
}

// structureChanged compares the wanted structure with the loaded one.
func (a *Applier) structureChanged() bool {
	return a.loaded == nil || signature(a.cfg, a.want) != a.loaded.sig
}

// Problems returns everything left out of the last Config and why.
func (a *Applier) Problems() []model.Problem {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.problemsLocked()
}

func (a *Applier) problemsLocked() []model.Problem {
	c := model.Config{Problems: append([]model.Problem(nil), a.cfgProblems...)}
	for _, p := range a.applyProblems {
		c.Problems = append(c.Problems, p)
	}
	c.Normalize()
	return c.Problems
}

func (a *Applier) setProblem(kind, name, format string, args ...any) {
	a.applyProblems[kind+"/"+name] = model.Problem{Kind: kind, Name: name, Reason: fmt.Sprintf(format, args...)}
}

func (a *Applier) clearProblem(kind, name string) { delete(a.applyProblems, kind+"/"+name) }
