// Package cnmtest runs the real peers of the Docker driver for tests and
// benchmarks: a private dockerd inside a node's network namespace, the
// dcnet-cnm plugin next to it, and the FROM scratch probe image.
//
// # Isolation
//
// dockerd finds socket plugins in /run/docker/plugins, a host path that every
// dockerd shares. Each dockerd here runs in its own mount namespace (as well
// as the node's netns): `nsenter --net=<node netns> unshare --mount
// --propagation private` mounts a tmpfs over /run and binds the dockerd's own
// plugin directory (under its temp dir) on /run/docker/plugins. So no two
// dockerds see each other's plugins, nothing is written to the host's /run,
// and every mount dockerd and containerd make (overlay rootfs, netns
// bind mounts) lives in that namespace and disappears with its last process.
// nsenter is used, not `ip netns exec`, which remounts /sys and hides the
// cgroup hierarchy dockerd needs. dockerd runs with its own data root, exec
// root, pid file and API socket, and with --iptables=false --ip6tables=false
// --bridge=none --ip-forward=false --ip-masq=false: nothing of the host
// namespace is touched.
package cnmtest

import (
	"context"
	"errors"
	"fmt"
	"github.com/dcnet/dcnet/internal/netsim"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds.
const (
	stopTimeout  = 30 * time.Second
	readyTimeout = 60 * time.Second
	killWait     = 10 * time.Second
)

// PluginName is the name the driver has for dockerd (its socket's name).
const PluginName = "dcnet"

// Proc is a daemon started by this package, stopped by its PID.
type Proc struct {
	Argv []string
	Log  string
	pid  int
	done chan struct{}
	err  error
}

// Start runs argv in the network namespace at nsPath (host mount
// namespace), output appended to logPath.
func Start(nsPath, logPath string, argv ...string) (*Proc, error) {
	return start(logPath, append([]string{"nsenter", "--net=" + nsPath}, argv...))
}

func start(logPath string, argv []string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "# cnmtest: %s\n", strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }() // never on a thread locked into a netns
	if err := <-started; err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &Proc{Argv: argv, Log: logPath, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process's ID (nsenter and unshare exec, so it is the daemon's).
func (p *Proc) PID() int { return p.pid }

// Exited reports whether the process is gone.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to timeout, then SIGKILLs the process group.
func (p *Proc) Stop(timeout time.Duration) error {
	if !p.Exited() {
		if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop pid %d: %w", p.pid, err)
		}
		select {
		case <-p.done:
		case <-time.After(timeout):
		}
	}
	return p.Kill9()
}

// Kill9 SIGKILLs the process group, as a crash would, and waits for it.
func (p *Proc) Kill9() error {
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill pid %d: %w", p.pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("pid %d (%s) still running after SIGKILL", p.pid, p.Argv[0])
	}
}

// Dockerd is a private dockerd (see the package doc).
type Dockerd struct {
	Dir       string // everything of this dockerd lives under it
	Socket    string // its API socket
	PluginDir string // seen by dockerd as /run/docker/plugins
	NSPath    string
	proc      *Proc
	starts    int
}

// NewDockerd prepares a dockerd in a fresh short temp dir (unix socket
// paths are limited to 108 bytes) for the netns at nsPath.
func NewDockerd(nsPath string) (*Dockerd, error) {
	dir, err := os.MkdirTemp("", "dcd")
	if err != nil {
		return nil, err
	}
	d := &Dockerd{Dir: dir, Socket: filepath.Join(dir, "docker.sock"), PluginDir: filepath.Join(dir, "plugins"), NSPath: nsPath}
	if err := os.MkdirAll(d.PluginDir, 0o755); err != nil {
		return nil, err
	}
	return d, nil
}

// privateRun is run by sh inside the new mount namespace: $1 is the plugin
// dir, the rest is dockerd's command line.
const privateRun = `set -e
mount -t tmpfs -o mode=0755 cnmtest-run /run
mkdir -p /run/docker/plugins
mount --bind "$1" /run/docker/plugins
shift
exec "$@"`

// Start starts dockerd and waits until it answers.
func (d *Dockerd) Start() error {
	d.starts++
	argv := []string{"nsenter", "--net=" + d.NSPath, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", privateRun, "sh", d.PluginDir,
		"dockerd", "--data-root", filepath.Join(d.Dir, "data"), "--exec-root", filepath.Join(d.Dir, "exec"),
		"--pidfile", filepath.Join(d.Dir, "docker.pid"), "-H", "unix://" + d.Socket,
		"--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-forward=false", "--ip-masq=false"}
	p, err := start(d.LogPath(), argv)
	if err != nil {
		return err
	}
	d.proc = p
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := d.Docker(ctx, "version", "--format", "{{.Server.Version}}")
		cancel()
		if err == nil {
			return nil
		}
		if p.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("dockerd in %s not ready: %v\n%s", d.NSPath, err, Tail(d.LogPath(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LogPath is the log of the current (or last) run.
func (d *Dockerd) LogPath() string {
	return filepath.Join(d.Dir, fmt.Sprintf("dockerd-%d.log", d.starts))
}

// Docker runs the docker CLI against this dockerd.
func (d *Dockerd) Docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", "unix://" + d.Socket}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0", "DOCKER_CONFIG="+filepath.Join(d.Dir, "cli"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// Stop stops dockerd with SIGTERM (it stops its containers and its
// containerd), then kills by PID whatever of it is left: the processes
// naming its exec root (containerd, shims), not the plugin next to it.
func (d *Dockerd) Stop() error {
	if d.proc == nil {
		return nil
	}
	err := d.proc.Stop(stopTimeout)
	if kerr := KillUnder(filepath.Join(d.Dir, "exec")); kerr != nil && err == nil {
		err = kerr
	}
	return err
}

// Kill9 SIGKILLs dockerd alone (its containerd and containers stay, as
// after a crash).
func (d *Dockerd) Kill9() error { return d.proc.Kill9() }

// Close stops dockerd and removes its directory.
func (d *Dockerd) Close() error {
	err := d.Stop()
	if rerr := os.RemoveAll(d.Dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// KillUnder SIGKILLs every process whose command line names a path under
// dir (containerd and shims of a private dockerd), by PID, and waits until
// they are gone.
func KillUnder(dir string) error {
	deadline := time.Now().Add(killWait)
	for {
		pids := pidsUnder(dir)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes under %s survive SIGKILL: %v", dir, pids)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pidsUnder(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), dir+"/") {
			if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(st), ") Z ") {
				continue // a zombie awaiting its parent's wait
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// BuildProbeImage builds the probe (CGO_ENABLED=0) from the module at
// repoRoot and an image tag FROM scratch holding it as /app.
func (d *Dockerd) BuildProbeImage(ctx context.Context, repoRoot, tag string) error {
	ctxDir := filepath.Join(d.Dir, "image")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(ctxDir, "app"), "./cnm/internal/probe")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build probe: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	_, err := d.Docker(ctx, "build", "-q", "-t", tag, ctxDir)
	return err
}

// Tail returns the last n lines of a file (netsim.TailFile).
func Tail(path string, n int) string { return netsim.TailFile(path, n) }
