// Package mesos is dcnet-l7lb's source of Mesos tasks of every
// framework, for pools' mesos selectors (framework name, task name,
// port name): the master's operator API SUBSCRIBE stream (POST
// /api/v1 {"type":"SUBSCRIBE"}), whose SUBSCRIBED event carries the
// whole state and whose TASK_ADDED, TASK_UPDATED, FRAMEWORK_* and AGENT_*
// events are folded in as they come (l4lb/mesos does the decoding and
// the folding, as dcos-net's listener). A stream that brings nothing,
// not even a HEARTBEAT, for Idle is reconnected; the stream is also
// re-opened every Resync, which gives a fresh full state. Several
// masters are tried in order (a non-leader redirects to the leader);
// while none answers, the last state stays.
package mesos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mstate "github.com/dcnet/dcnet/l4lb/mesos"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/source"
)

// Defaults of Options.
const (
	DefaultIdle    = 45 * time.Second // three Mesos heartbeats
	DefaultResync  = 5 * time.Minute
	DefaultTimeout = 10 * time.Second
	// maxFrame bounds one RecordIO frame (SUBSCRIBED holds the state).
	maxFrame = 256 << 20
	// stableStream is how long a stream must last to reset the backoff.
	stableStream = 10 * time.Second
)

// Options configure a Source.
type Options struct {
	// Masters are the masters' URLs ("http://10.0.0.1:5050"; a bare
	// host:port means http).
	Masters []string
	// Timeout bounds the connect and the answer's header (0: DefaultTimeout).
	Timeout time.Duration
	// Idle reconnects a silent stream (0: DefaultIdle).
	Idle time.Duration
	// Resync re-opens the stream for a fresh full state (0: DefaultResync).
	Resync time.Duration
	// OnChange is called after every change of the tasks (from Run's
	// goroutine).
	OnChange func()
	Log      *slog.Logger
}

// Source keeps the Mesos tasks of every framework.
type Source struct {
	opts    Options
	masters []*url.URL
	client  *http.Client
	log     *slog.Logger
	tracker *source.Tracker

	preferred atomic.Int32
	mu        sync.RWMutex
	tasks     []mstate.Summary
}

var _ source.Source = (*Source)(nil)

// New returns a source of the masters; Run starts it.
func New(opts Options) (*Source, error) {
	if len(opts.Masters) == 0 {
		return nil, errors.New("mesos: no master given")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Idle <= 0 {
		opts.Idle = DefaultIdle
	}
	if opts.Resync <= 0 {
		opts.Resync = DefaultResync
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Source{opts: opts, log: opts.Log.With("source", "mesos"), tracker: source.NewTracker("mesos")}
	for _, m := range opts.Masters {
		if !strings.Contains(m, "://") {
			m = "http://" + m
		}
		u, err := url.Parse(strings.TrimSpace(m))
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("mesos master URL %q: want http://host:5050", m)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		s.masters = append(s.masters, u)
	}
	s.client = &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: opts.Timeout}).DialContext,
		ResponseHeaderTimeout: opts.Timeout,
	}}
	return s, nil
}

// SetOnChange replaces Options.OnChange; call it before Run.
func (s *Source) SetOnChange(f func()) { s.opts.OnChange = f }

// Name implements source.Source.
func (s *Source) Name() string { return "mesos" }

// Status implements source.Source.
func (s *Source) Status() l7lbapi.SourceStatus { return s.tracker.Status() }

// Errors implements source.Source.
func (s *Source) Errors() map[string]uint64 { return s.tracker.Errors() }

// Synced reports whether a full state arrived once.
func (s *Source) Synced() bool { return s.tracker.IsSynced() }

// Tasks returns every task of the last state. Shared: read only.
func (s *Source) Tasks() []mstate.Summary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tasks
}

// Run follows the masters until ctx ends.
func (s *Source) Run(ctx context.Context) {
	wait := source.Backoff{Min: time.Second, Max: 30 * time.Second}
	for ctx.Err() == nil {
		start := time.Now()
		err := s.followOne(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) >= stableStream {
			wait.Reset()
		}
		if err == nil {
			continue // resync: re-subscribe at once
		}
		d := wait.Next()
		s.log.Warn("mesos: event stream ended, subscribing again", "err", err, "retry", d)
		if !source.Sleep(ctx, d) {
			return
		}
	}
}

// followOne subscribes at the first master that accepts and follows the
// stream; nil means it was ended for a resync.
func (s *Source) followOne(ctx context.Context) error {
	var errs []error
	n := len(s.masters)
	for i := range n {
		idx := (int(s.preferred.Load()) + i) % n
		resync, err := s.stream(ctx, s.masters[idx])
		if resync {
			s.preferred.Store(int32(idx))
			return nil
		}
		var se *streamError
		if errors.As(err, &se) && se.kind != "connect" {
			s.preferred.Store(int32(idx))
			s.tracker.Failed("stream_"+se.kind, se.err)
			return err // the stream was up: subscribe again from the top
		}
		if ctx.Err() != nil {
			return nil
		}
		s.tracker.Failed("stream_connect", err)
		s.log.Info("mesos: master did not accept the stream, trying the next", "master", s.masters[idx].Host, "err", err)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type streamError struct {
	kind string // connect, idle, garbage, closed
	err  error
}

func (e *streamError) Error() string { return "mesos event stream " + e.kind + ": " + e.err.Error() }

// stream follows one SUBSCRIBE stream; resync is true when it was ended
// on the Resync timer.
func (s *Source) stream(ctx context.Context, m *url.URL) (resync bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := *m
	u.Path += "/api/v1"
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, u.String(), bytes.NewReader([]byte(`{"type":"SUBSCRIBE"}`)))
	if err != nil {
		return false, &streamError{"connect", err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return false, &streamError{"connect", fmt.Errorf("subscribe %s: %w", u.Redacted(), err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, &streamError{"connect", fmt.Errorf("subscribe %s: %s: %s", u.Redacted(), resp.Status, bytes.TrimSpace(b))}
	}
	var idled, resynced atomic.Bool
	idle := time.AfterFunc(s.opts.Idle, func() { idled.Store(true); cancel() })
	defer idle.Stop()
	rs := time.AfterFunc(s.opts.Resync, func() { resynced.Store(true); cancel() })
	defer rs.Stop()
	s.tracker.Detail("subscribed at " + resp.Request.URL.Redacted())
	s.log.Info("mesos: subscribed", "master", resp.Request.URL.Host)
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var state *mstate.GetState
	for {
		frame, err := readFrame(br)
		switch {
		case resynced.Load():
			return true, nil
		case idled.Load():
			return false, &streamError{"idle", fmt.Errorf("nothing from %s for %v", u.Host, s.opts.Idle)}
		case ctx.Err() != nil:
			return false, &streamError{"closed", ctx.Err()}
		case errors.Is(err, errGarbage):
			return false, &streamError{"garbage", err}
		case err != nil:
			return false, &streamError{"closed", fmt.Errorf("%s: %w", u.Host, err)}
		}
		idle.Reset(s.opts.Idle)
		var ev mstate.Event
		if err := json.Unmarshal(frame, &ev); err != nil || ev.Type == "" {
			return false, &streamError{"garbage", fmt.Errorf("frame %.80q is not an operator API event: %v", frame, err)}
		}
		switch {
		case ev.Type == "HEARTBEAT":
			if state != nil {
				s.tracker.Fresh()
			}
			continue
		case ev.Type == "SUBSCRIBED":
			state = &mstate.GetState{}
		case state == nil:
			return false, &streamError{"garbage", fmt.Errorf("%s event before SUBSCRIBED", ev.Type)}
		}
		if err := state.Apply(ev); err != nil {
			return false, &streamError{"garbage", err}
		}
		if br.Buffered() > 0 {
			continue // a burst: publish once it is read
		}
		s.publish(state)
	}
}

// publish extracts the tasks of state and notifies.
func (s *Source) publish(state *mstate.GetState) {
	tasks, errs := mstate.Summaries(state, netip.Addr{})
	for _, err := range errs {
		s.log.Debug("mesos: task label ignored", "err", err)
	}
	s.mu.Lock()
	s.tasks = tasks
	s.mu.Unlock()
	s.tracker.Synced()
	if s.opts.OnChange != nil {
		s.opts.OnChange()
	}
}

var errGarbage = errors.New("not RecordIO")

// readFrame reads one RecordIO frame: "<length>\n<length bytes>".
func readFrame(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: length line too long", errGarbage)
		}
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 64)
	if err != nil || n < 0 || n > maxFrame {
		return nil, fmt.Errorf("%w: bad frame length %.40q", errGarbage, bytes.TrimSpace(line))
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(br, frame); err != nil {
		return nil, err
	}
	return frame, nil
}
