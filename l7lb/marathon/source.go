package marathon

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/source"
)

// Source defaults.
const (
	// DefaultResync is the period of the full re-read of every app.
	DefaultResync = time.Minute
	// streamDownResync is the period of full reads while no event stream
	// is connected, so that a Marathon whose stream is broken still
	// reaches HAProxy within seconds.
	streamDownResync = 10 * time.Second
	// eventQueue bounds the events waiting to be applied; beyond it
	// events are dropped and a full read catches up.
	eventQueue = 10000
	// maxBatch bounds the events applied between two notifications.
	maxBatch = 1000
	// maxRefetch is how many apps one batch re-reads one by one; more
	// and one full read is cheaper.
	maxRefetch = 16
	// stableStream is how long a stream must last to reset the backoff.
	stableStream = 10 * time.Second
)

// Error kinds of the Marathon source (Tracker kinds and metric labels).
const (
	errList     = "list"
	errApp      = "app"
	errOverflow = "overflow"
)

// Terminal task states: the task is gone from Marathon's view.
var terminal = map[string]bool{
	"TASK_FINISHED": true, "TASK_FAILED": true, "TASK_KILLED": true, "TASK_ERROR": true, "TASK_DROPPED": true,
	"TASK_GONE": true, "TASK_GONE_BY_OPERATOR": true, "TASK_UNKNOWN": true,
}

// Options configure a Source.
type Options struct {
	Client *Client
	// Resync is the period of full re-reads (0: DefaultResync).
	Resync time.Duration
	// Idle reconnects a stream silent this long (0: DefaultIdle).
	Idle time.Duration
	// Resolver turns task host names into addresses (nil: the system
	// resolver with a cache).
	Resolver Resolver
	// OnChange is called after every change of the apps, from Run's
	// goroutine; it must not block.
	OnChange func()
	Log      *slog.Logger
}

// Source keeps every Marathon app and its tasks current: a full read
// (GET /v2/apps?embed=apps.tasks), then the event stream's changes
// applied as they come (task states from status_update_event, one app
// re-read for api_post_event and health_status_changed_event, removal
// on app_terminated_event), a full read again every Resync, after every
// stream reconnect and when events were lost. Events that arrive while a
// full read is under way are applied on top of it. While every Marathon
// fails, the last good apps stay.
type Source struct {
	opts    Options
	log     *slog.Logger
	tracker *source.Tracker

	mu     sync.RWMutex
	apps   map[string]App
	sorted []App // nil when apps changed since the last Apps

	streamUp  atomic.Bool
	overflow  atomic.Bool
	connected atomic.Int64 // unix nanos of the current stream's connect
	lastList  atomic.Int64 // unix nanos of the last good full read (its start)
}

var _ source.Source = (*Source)(nil)

// NewSource returns a source; Run starts it.
func NewSource(opts Options) *Source {
	if opts.Resync <= 0 {
		opts.Resync = DefaultResync
	}
	if opts.Resolver == nil {
		opts.Resolver = NewResolver()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Source{opts: opts, log: opts.Log.With("source", "marathon"), tracker: source.NewTracker("marathon"), apps: map[string]App{}}
}

// SetOnChange replaces Options.OnChange; call it before Run.
func (s *Source) SetOnChange(f func()) { s.opts.OnChange = f }

// Name implements source.Source.
func (s *Source) Name() string { return "marathon" }

// Status implements source.Source.
func (s *Source) Status() l7lbapi.SourceStatus { return s.tracker.Status() }

// Errors implements source.Source.
func (s *Source) Errors() map[string]uint64 { return s.tracker.Errors() }

// Synced reports whether a full read succeeded once.
func (s *Source) Synced() bool { return s.tracker.IsSynced() }

// Apps returns every app sorted by ID. The apps are shared: read only.
func (s *Source) Apps() []App {
	s.mu.RLock()
	out := s.sorted
	s.mu.RUnlock()
	if out != nil {
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sorted == nil {
		s.sorted = make([]App, 0, len(s.apps))
		for _, a := range s.apps {
			s.sorted = append(s.sorted, a)
		}
		sort.Slice(s.sorted, func(i, j int) bool { return s.sorted[i].ID < s.sorted[j].ID })
	}
	return s.sorted
}

// streamMsg is what the stream goroutine hands to Run: an event, or the
// news that a stream was (re)connected.
type streamMsg struct {
	event    Event
	attached bool
	// detached: the stream ended; full reads come every
	// streamDownResync until it is back.
	detached bool
	// at is when the message arrived (unix nanos): a message older than
	// the start of the last full read is already in it.
	at int64
}

// Run follows Marathon until ctx ends.
func (s *Source) Run(ctx context.Context) {
	msgs := make(chan streamMsg, eventQueue)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.stream(ctx, msgs) }()
	defer wg.Wait()
	needList := true
	retry := source.Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		if needList {
			if s.list(ctx) {
				needList = false
				retry.Reset()
				timer.Reset(s.resyncPeriod())
			} else {
				timer.Reset(retry.Next())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			needList = true
		case m := <-msgs:
			batch := []streamMsg{m}
		drain:
			for len(batch) < maxBatch {
				select {
				case m := <-msgs:
					batch = append(batch, m)
				default:
					break drain
				}
			}
			if s.apply(ctx, batch) || s.overflow.Swap(false) {
				needList = true
			} else if slices.ContainsFunc(batch, func(m streamMsg) bool { return m.detached }) {
				timer.Reset(streamDownResync)
			}
		}
	}
}

func (s *Source) resyncPeriod() time.Duration {
	if !s.streamUp.Load() {
		return min(s.opts.Resync, streamDownResync)
	}
	return s.opts.Resync
}

// list reads every app; on failure the last apps stay.
func (s *Source) list(ctx context.Context) bool {
	start := time.Now()
	apps, from, err := s.opts.Client.Apps(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.tracker.Failed(errList, err)
			s.log.Warn("marathon: reading the apps failed, serving the last ones", "err", err)
		}
		return false
	}
	m := make(map[string]App, len(apps))
	for _, a := range apps {
		s.resolve(ctx, &a)
		m[a.ID] = a
	}
	s.mu.Lock()
	s.apps, s.sorted = m, nil
	s.mu.Unlock()
	s.lastList.Store(start.UnixNano())
	s.tracker.Synced()
	s.tracker.Detail("apps from " + from + s.streamDetail())
	s.log.Debug("marathon: apps read", "from", from, "apps", len(apps), "took", time.Since(start))
	s.changed()
	return true
}

func (s *Source) streamDetail() string {
	if s.streamUp.Load() {
		return ", event stream connected"
	}
	return ", no event stream"
}

func (s *Source) changed() {
	if s.opts.OnChange != nil {
		s.opts.OnChange()
	}
}

// resolve fills the HostIP of every task of a.
func (s *Source) resolve(ctx context.Context, a *App) {
	for i := range a.Tasks {
		t := &a.Tasks[i]
		if t.HostIP.IsValid() {
			continue
		}
		ip, err := hostIP(ctx, s.opts.Resolver, t.Host)
		if err != nil {
			s.log.Debug("marathon: task host does not resolve", "task", t.ID, "host", t.Host, "err", err)
		}
		t.HostIP = ip
	}
}

// stream keeps an event stream open, reconnecting with a backoff.
func (s *Source) stream(ctx context.Context, msgs chan<- streamMsg) {
	wait := source.Backoff{Min: time.Second, Max: 30 * time.Second}
	send := func(m streamMsg) {
		m.at = time.Now().UnixNano()
		select {
		case msgs <- m:
		default:
			s.overflow.Store(true)
		}
	}
	for ctx.Err() == nil {
		start := time.Now()
		err := s.opts.Client.Stream(ctx, SubscribedEvents, s.opts.Idle, StreamHandler{
			Connected: func(from string) {
				s.connected.Store(time.Now().UnixNano())
				s.streamUp.Store(true)
				s.log.Info("marathon: event stream connected", "from", from)
				send(streamMsg{attached: true})
			},
			Activity: s.fresh,
			Event:    func(ev Event) { send(streamMsg{event: ev}) },
		})
		s.streamUp.Store(false)
		if ctx.Err() != nil {
			return
		}
		send(streamMsg{detached: true})
		var se *StreamError
		if errors.As(err, &se) {
			s.tracker.Failed("stream_"+se.Kind, se.Err)
		}
		if time.Since(start) >= stableStream {
			wait.Reset()
		}
		d := wait.Next()
		s.log.Warn("marathon: event stream ended, reconnecting", "err", err, "retry", d)
		if !source.Sleep(ctx, d) {
			return
		}
	}
}

// fresh marks the apps current when the stream was connected before the
// last full read began: nothing can have been missed since.
func (s *Source) fresh() {
	if c := s.connected.Load(); s.streamUp.Load() && c != 0 && c <= s.lastList.Load() {
		s.tracker.Fresh()
	}
}
