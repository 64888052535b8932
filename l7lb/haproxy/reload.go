package haproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logRingLines is how many of HAProxy's output lines are kept.
const logRingLines = 400

// linesWait bounds the wait for HAProxy's output about a failed reload.
const linesWait = time.Second

// ReloadError is a reload the master refused or did not finish; the old
// workers keep serving the previous configuration.
type ReloadError struct {
	// Failed is the master's "[failed: N]" after the reload, 0 when the
	// reload did not finish for another reason (Err).
	Failed int
	Err    error
	// Lines are what HAProxy printed during the reload.
	Lines []string
}

func (e *ReloadError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("haproxy reload: %v%s", e.Err, alertSummary(e.Lines))
	}
	return fmt.Sprintf("haproxy reload failed (master reports failed: %d), old workers keep serving%s", e.Failed, alertSummary(e.Lines))
}

func (e *ReloadError) Unwrap() error { return e.Err }

// Alerts returns the [ALERT] lines of the reload.
func (e *ReloadError) Alerts() []Alert { return ParseAlerts(joinLines(e.Lines)) }

func alertSummary(lines []string) string {
	alerts := ParseAlerts(joinLines(lines))
	if len(alerts) == 0 {
		return ""
	}
	var msgs []string
	for _, a := range alerts {
		msgs = append(msgs, a.String())
	}
	return ": " + strings.Join(msgs, "; ")
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

// Reload makes the master load ConfigPath again and confirms it: the
// master's reload counter moved without a failure and a new worker answers
// on the stats socket. A refused configuration is a *ReloadError (the old
// workers keep serving). The caller validates the file first (Check).
func (p *Instance) Reload(ctx context.Context) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	p.mu.Lock()
	r := p.proc
	p.mu.Unlock()
	if r == nil {
		return errors.New("haproxy reload: not running")
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.ReloadTimeout)
	defer cancel()
	before, err := p.showProcRetry(ctx, r)
	if err != nil {
		return &ReloadError{Err: err}
	}
	seq := p.lines.seq()
	if err := p.master.SendReload(ctx); err != nil {
		return &ReloadError{Err: err}
	}
	old := map[int]bool{}
	for _, w := range before.Workers {
		old[w.PID] = true
	}
	for {
		procs, err := p.showProcRetry(ctx, r)
		if err != nil {
			return &ReloadError{Err: err, Lines: p.lines.since(seq)}
		}
		if procs.Master.Reloads != before.Master.Reloads {
			if procs.Master.Failed > 0 {
				return &ReloadError{Failed: procs.Master.Failed, Lines: p.lines.waitFor(seq, "Loading failure")}
			}
			break
		}
		select {
		case <-ctx.Done():
			return &ReloadError{Err: fmt.Errorf("master did not reload: %w", ctx.Err()), Lines: p.lines.since(seq)}
		case <-time.After(pollInterval):
		}
	}
	if err := p.waitWorker(ctx, r, old); err != nil {
		return &ReloadError{Err: err, Lines: p.lines.since(seq)}
	}
	return nil
}

// showProcRetry asks the master for show proc until it answers: the master
// CLI is away while the master re-executes itself.
func (p *Instance) showProcRetry(ctx context.Context, r *running) (Procs, error) {
	var last error
	for {
		procs, err := p.master.ShowProc(ctx)
		if err == nil {
			return procs, nil
		}
		last = err
		select {
		case <-r.done:
			return Procs{}, fmt.Errorf("haproxy master pid %d exited: %v", r.pid, r.waitErr)
		case <-ctx.Done():
			return Procs{}, fmt.Errorf("master CLI: %w", errors.Join(ctx.Err(), last))
		case <-time.After(pollInterval):
		}
	}
}

// ShowProc asks the master for its processes.
func (p *Instance) ShowProc(ctx context.Context) (Procs, error) { return p.master.ShowProc(ctx) }

// lineRing keeps the last lines of HAProxy's output, numbered.
type lineRing struct {
	mu    sync.Mutex
	max   int
	next  uint64 // number of the next line
	lines []string
}

func newLineRing(max int) *lineRing { return &lineRing{max: max} }

func (l *lineRing) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > l.max {
		l.lines = l.lines[len(l.lines)-l.max:]
	}
	l.next++
}

// seq is the number the next line will get.
func (l *lineRing) seq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// since returns the kept lines numbered seq and later.
func (l *lineRing) since(seq uint64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.next - uint64(len(l.lines))
	if seq < first {
		seq = first
	}
	return append([]string(nil), l.lines[seq-first:]...)
}

// waitFor returns the lines since seq once one contains marker, or after
// a short bound: HAProxy's output arrives through a pipe, after the master
// CLI already tells the outcome.
func (l *lineRing) waitFor(seq uint64, marker string) []string {
	deadline := time.Now().Add(linesWait)
	for {
		lines := l.since(seq)
		for _, s := range lines {
			if strings.Contains(s, marker) {
				return lines
			}
		}
		if time.Now().After(deadline) {
			return lines
		}
		time.Sleep(pollInterval)
	}
}

// readFrom logs and keeps every line of r until EOF.
func (l *lineRing) readFrom(r io.ReadCloser, log *slog.Logger) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		l.add(line)
		switch {
		case strings.HasPrefix(line, "[ALERT]"):
			log.Error("haproxy", "line", line)
		case strings.HasPrefix(line, "[WARNING]"):
			log.Warn("haproxy", "line", line)
		default:
			log.Info("haproxy", "line", line)
		}
	}
}
