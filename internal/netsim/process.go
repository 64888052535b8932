package netsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bounds on stopping a process.
const (
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout = 10 * time.Second
	// killTimeout is how long Kill9 waits for the kernel to reap the process.
	killTimeout = 10 * time.Second
	// logTailLines is how much of a failed test's daemon log is shown.
	logTailLines = 40
)

// Process is a long-lived daemon running inside a node's netns.
type Process struct {
	// Argv is the command as given to StartProcess.
	Argv []string
	// LogPath receives the process's stdout and stderr.
	LogPath string
	// Node is where the process runs.
	Node *Node

	pid     int
	done    chan struct{}
	waitErr error
}

// StartProcess starts argv inside node's netns (through `ip netns exec`,
// which execs, so PID is the daemon's own) with stdout and stderr appended to
// logPath. The process gets its own process group and is SIGKILLed when ctx
// is cancelled or when the calling program dies. The caller must Stop it.
func StartProcess(ctx context.Context, node *Node, logPath string, argv ...string) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("start process: empty command")
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("start %s on %s: log dir: %w", argv[0], node.Name, err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s on %s: open log: %w", argv[0], node.Name, err)
	}
	fmt.Fprintf(logf, "# netsim: node %s (netns %s): %s\n", node.Name, node.NSName, strings.Join(argv, " "))

	cmd := node.Exec(ctx, argv...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }

	// Pdeathsig fires when the forking OS thread exits. Start from a fresh
	// goroutine: it never runs on a thread locked by the caller (ns.Do), and
	// unlocked threads live as long as the program.
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	if err := <-started; err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s on %s: %w", argv[0], node.Name, err)
	}
	p := &Process{Argv: argv, LogPath: logPath, Node: node, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// StartProcessT starts a process for a test and stops it in t.Cleanup,
// showing the tail of its log if the test failed. An empty logPath puts the
// log in t.TempDir().
func StartProcessT(t testing.TB, node *Node, logPath string, argv ...string) *Process {
	t.Helper()
	if logPath == "" && len(argv) > 0 {
		logPath = filepath.Join(t.TempDir(), node.Name+"-"+filepath.Base(argv[0])+".log")
	}
	// Not t.Context(): it is cancelled before cleanups run, which would
	// SIGKILL the daemon before Stop could ask it to exit cleanly.
	p, err := StartProcess(context.Background(), node, logPath, argv...)
	if err != nil {
		t.Fatalf("netsim: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("netsim: %v", err)
		}
		if t.Failed() {
			t.Logf("netsim: last lines of %s:\n%s", p.LogPath, TailFile(p.LogPath, logTailLines))
		}
	})
	return p
}

// PID returns the daemon's process id.
func (p *Process) PID() int { return p.pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait blocks until the process exits and returns its exit status as
// exec.Cmd.Wait does. Safe to call from several goroutines.
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// Kill9 SIGKILLs the process and its process group, as a crash would, and
// waits a bounded time until it is reaped.
func (p *Process) Kill9() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := killGroup(p.pid); err != nil {
		return fmt.Errorf("kill %s pid %d: %w", p.Argv[0], p.pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("kill %s pid %d: still running after %v", p.Argv[0], p.pid, killTimeout)
	}
}

// Stop sends SIGTERM to the process, waits up to StopTimeout, then SIGKILLs
// its process group. It returns nil once the process is gone, whatever its
// exit status (see Wait). Safe to call repeatedly.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		killGroup(p.pid) // children left behind by a leader that exited
		return nil
	default:
	}
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s pid %d: %w", p.Argv[0], p.pid, err)
	}
	select {
	case <-p.done:
		killGroup(p.pid)
		return nil
	case <-time.After(StopTimeout):
	}
	return p.Kill9()
}

// killGroup SIGKILLs process group pgid; a group already gone is fine.
func killGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// TailFile returns the last n lines of a file (a daemon's log), or a note
// why it cannot.
func TailFile(path string, n int) string {
	fh, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
