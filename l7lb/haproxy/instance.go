package haproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Bounds of an Instance, used when its Options leave them zero.
const (
	DefaultStartTimeout  = 60 * time.Second
	DefaultReloadTimeout = 60 * time.Second
	DefaultStopTimeout   = 10 * time.Second
	restartBackoffMin    = 200 * time.Millisecond
	restartBackoffMax    = 30 * time.Second
	// stableRun is how long a master must live for the restart backoff
	// to start again from its minimum.
	stableRun    = 30 * time.Second
	pollInterval = 10 * time.Millisecond
)

// Options configure an Instance.
type Options struct {
	// Command is the haproxy program with any wrapper that execs it
	// (["ip", "netns", "exec", "n1", "haproxy"]); default ["haproxy"].
	Command []string
	// ConfigPath is the configuration file, re-read at every reload and
	// restart.
	ConfigPath string
	// MasterSocket is the master CLI's unix socket (-S).
	MasterSocket string
	// StatsSocket is the runtime API's unix socket, as the configuration
	// binds it (`stats socket ... level admin`).
	StatsSocket string
	// Logger receives HAProxy's own output and the supervisor's events.
	Logger *slog.Logger
	// StartTimeout, ReloadTimeout and StopTimeout bound those operations.
	StartTimeout, ReloadTimeout, StopTimeout time.Duration
}

// Instance is one supervised HAProxy master with its workers. Its methods
// are safe for concurrent use; reloads are serialised.
type Instance struct {
	opts   Options
	log    *slog.Logger
	master *Master
	rt     *Runtime
	lines  *lineRing

	reloadMu sync.Mutex // one reload (or start) at a time

	mu       sync.Mutex
	proc     *running // nil when not running
	starts   uint64
	stopping bool
	stopped  chan struct{} // closed by Stop
	notify   chan struct{}
}

// running is one master process.
type running struct {
	pid     int
	started time.Time
	done    chan struct{}
	waitErr error
}

// New returns an Instance; nothing runs until Start.
func New(opts Options) *Instance {
	if len(opts.Command) == 0 {
		opts.Command = []string{"haproxy"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.ReloadTimeout <= 0 {
		opts.ReloadTimeout = DefaultReloadTimeout
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	return &Instance{
		opts:    opts,
		log:     opts.Logger,
		master:  &Master{T: &UnixTransport{Path: opts.MasterSocket}},
		rt:      &Runtime{T: &UnixTransport{Path: opts.StatsSocket}},
		lines:   newLineRing(logRingLines),
		stopped: make(chan struct{}),
		notify:  make(chan struct{}, 1),
	}
}

// ConfigPath is the file HAProxy loads.
func (p *Instance) ConfigPath() string { return p.opts.ConfigPath }

// StatsSocket is the runtime API's socket the configuration must bind.
func (p *Instance) StatsSocket() string { return p.opts.StatsSocket }

// Runtime is the runtime API of the current worker.
func (p *Instance) Runtime() *Runtime { return p.rt }

// Master is the master CLI.
func (p *Instance) Master() *Master { return p.master }

// Exec sends runtime-API commands to the current worker.
func (p *Instance) Exec(ctx context.Context, cmds []Command) ([]string, error) {
	return p.rt.T.Exec(ctx, cmds)
}

// Check validates a configuration file with this instance's haproxy.
func (p *Instance) Check(ctx context.Context, path string) error {
	return Check(ctx, p.opts.Command, path)
}

// Starts counts the times a master was started (the first Start and
// every restart): when it moves, runtime changes not in the file are lost.
func (p *Instance) Starts() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Started is signalled after every start that became ready, the first
// and restarts after a crash.
func (p *Instance) Started() <-chan struct{} { return p.notify }

// PID returns the master's PID, 0 when none runs.
func (p *Instance) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.pid
}

// Running reports whether a master process is alive.
func (p *Instance) Running() bool { return p.PID() != 0 }

// Log returns the last lines HAProxy printed.
func (p *Instance) Log() []string { return p.lines.since(0) }

// Start starts the master on ConfigPath, waits until its worker answers on
// the stats socket and supervises it: a master that exits on its own is
// started again with backoff until Stop. Start on a running instance does
// nothing.
func (p *Instance) Start(ctx context.Context) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return errors.New("haproxy: start after stop")
	}
	if p.proc != nil {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	r, err := p.startReady(ctx)
	if err != nil {
		return err
	}
	go p.supervise(r)
	return nil
}

// startReady starts one master and waits for its worker; on failure the
// process is gone.
func (p *Instance) startReady(ctx context.Context) (*running, error) {
	seq := p.lines.seq()
	r, err := p.spawn()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	if err := p.waitWorker(ctx, r, nil); err != nil {
		p.kill(r)
		return nil, &StartError{Err: err, Lines: p.lines.since(seq)}
	}
	p.mu.Lock()
	p.starts++
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
	p.log.Info("haproxy started", "pid", r.pid, "config", p.opts.ConfigPath)
	return r, nil
}

// spawn starts the master process in its own process group.
func (p *Instance) spawn() (*running, error) {
	argv := append(append([]string(nil), p.opts.Command...),
		"-W", "-S", p.opts.MasterSocket+",mode,600", "-f", p.opts.ConfigPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("haproxy: start: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	// Its own process group, and on Linux Pdeathsig (sysProcAttr): no
	// HAProxy outlives dcnet-l7lb. Pdeathsig fires when the forking
	// thread ends, so fork from a fresh goroutine, never from a thread
	// locked by the caller.
	cmd.SysProcAttr = sysProcAttr()
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	err = <-started
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("haproxy: start %v: %w", argv, err)
	}
	go p.lines.readFrom(pr, p.log)
	r := &running{pid: cmd.Process.Pid, started: time.Now(), done: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		close(r.done)
	}()
	p.mu.Lock()
	p.proc = r
	p.mu.Unlock()
	return r, nil
}

// waitWorker polls until a current worker not in old answers on the stats
// socket with its own PID.
func (p *Instance) waitWorker(ctx context.Context, r *running, old map[int]bool) error {
	var last error
	for {
		select {
		case <-r.done:
			return fmt.Errorf("haproxy master pid %d exited: %v", r.pid, r.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("no worker answered in time: %w", errors.Join(ctx.Err(), last))
		case <-time.After(pollInterval):
		}
		procs, err := p.master.ShowProc(ctx)
		if err != nil {
			last = err
			continue
		}
		for _, w := range procs.Workers {
			if old[w.PID] {
				continue
			}
			info, err := p.rt.ShowInfo(ctx)
			if err != nil {
				last = err
				break
			}
			if info["Pid"] == strconv.Itoa(w.PID) {
				return nil
			}
			last = fmt.Errorf("stats socket answered by pid %s, want the new worker %d", info["Pid"], w.PID)
		}
	}
}

// supervise restarts the master whenever it exits until Stop.
func (p *Instance) supervise(r *running) {
	backoff := restartBackoffMin
	for {
		select {
		case <-r.done:
		case <-p.stopped:
			return
		}
		p.mu.Lock()
		if p.proc == r {
			p.proc = nil
		}
		stopping := p.stopping
		p.mu.Unlock()
		if stopping {
			return
		}
		killGroup(r.pid) // workers left behind by a master that died
		if time.Since(r.started) > stableRun {
			backoff = restartBackoffMin
		}
		p.log.Error("haproxy master exited, restarting", "pid", r.pid, "status", fmt.Sprint(r.waitErr), "in", backoff)
		for {
			select {
			case <-p.stopped:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, restartBackoffMax)
			p.reloadMu.Lock()
			next, err := p.startReady(context.Background())
			p.reloadMu.Unlock()
			if err == nil {
				r = next
				break
			}
			p.log.Error("haproxy restart failed", "err", err, "retry in", backoff)
		}
	}
}

// kill SIGKILLs a master's process group and waits for the master.
func (p *Instance) kill(r *running) {
	killGroup(r.pid)
	select {
	case <-r.done:
	case <-time.After(p.opts.StopTimeout):
	}
	p.mu.Lock()
	if p.proc == r {
		p.proc = nil
	}
	p.mu.Unlock()
}

// Stop ends supervision and stops HAProxy: SIGTERM to the master (its
// workers stop at once), then SIGKILL to the process group after
// StopTimeout. Safe to call repeatedly.
func (p *Instance) Stop() error {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return nil
	}
	p.stopping = true
	close(p.stopped)
	r := p.proc
	p.mu.Unlock()
	if r == nil {
		return nil
	}
	if err := syscall.Kill(r.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("haproxy: stop pid %d: %w", r.pid, err)
	}
	select {
	case <-r.done:
	case <-time.After(p.opts.StopTimeout):
		p.log.Warn("haproxy did not stop in time, killing its process group", "pid", r.pid)
	}
	p.kill(r)
	return nil
}

// killGroup SIGKILLs process group pgid; a group already gone is fine.
func killGroup(pgid int) {
	if pgid > 0 {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// StartError is a master that did not become ready, with what it printed.
type StartError struct {
	Err   error
	Lines []string
}

func (e *StartError) Error() string {
	return fmt.Sprintf("haproxy did not start: %v%s", e.Err, alertSummary(e.Lines))
}

func (e *StartError) Unwrap() error { return e.Err }

// Alerts returns the [ALERT] lines HAProxy printed while starting.
func (e *StartError) Alerts() []Alert { return ParseAlerts(joinLines(e.Lines)) }
