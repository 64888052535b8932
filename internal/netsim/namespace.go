package netsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// ipTimeout bounds every `ip` command that netsim runs itself.
const ipTimeout = 30 * time.Second

// Namespace is a named network namespace that netsim created.
type Namespace struct {
	// NSName is the name under /run/netns, as `ip netns` knows it.
	NSName string
	// Path is the namespace's bind mount, /run/netns/<NSName>.
	Path string
}

func newNamespace(nsName string) Namespace {
	return Namespace{NSName: nsName, Path: NSPath(nsName)}
}

// Exec returns a command that runs argv inside the namespace through
// `ip netns exec`. The caller starts and waits for it.
func (n Namespace) Exec(ctx context.Context, argv ...string) *exec.Cmd {
	args := append([]string{"netns", "exec", n.NSName}, argv...)
	return exec.CommandContext(ctx, "ip", args...)
}

// Run runs argv inside the namespace and returns its combined output; the
// error names the command and carries the output.
func (n Namespace) Run(ctx context.Context, argv ...string) (string, error) {
	out, err := n.Exec(ctx, argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netns %s: %s: %w: %s", n.NSName, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Do runs fn on a locked OS thread switched into the namespace, as
// ns.NetNS.Do does; fn receives the namespace the caller came from.
func (n Namespace) Do(fn func(hostNS ns.NetNS) error) error {
	target, err := n.NetNS()
	if err != nil {
		return err
	}
	defer target.Close()
	return target.Do(fn)
}

// DialTCP dials addr over TCP from inside the namespace: the socket is
// made on a thread that sits in the namespace and keeps belonging to it
// afterwards, so the connection can be used from any goroutine. Its shape
// fits grpc.WithContextDialer (an etcd client reaching a member inside a
// namespace the host has no route to).
func (n Namespace) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func(ns.NetNS) error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside the namespace (net.Listen there); like
// DialTCP's connections it keeps belonging to the namespace and can be
// served from any goroutine.
func (n Namespace) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// NetNS opens a handle on the namespace; the caller closes it.
func (n Namespace) NetNS() (ns.NetNS, error) {
	h, err := ns.GetNS(n.Path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", n.NSName, err)
	}
	return h, nil
}

// Exists reports whether the namespace's bind mount is still there.
func (n Namespace) Exists() bool {
	_, err := os.Stat(n.Path)
	return err == nil
}

// runIP runs `ip args...` with a bounded time and returns an error that
// carries the command line and ip's own message.
func runIP(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ipTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// addNetns creates a named netns with lo up. It refuses a name that exists.
func addNetns(nsName string) error {
	if _, err := os.Stat(NSPath(nsName)); err == nil {
		return fmt.Errorf("add netns %s: already exists", nsName)
	}
	if err := runIP("netns", "add", nsName); err != nil {
		return fmt.Errorf("add netns %s: %w", nsName, err)
	}
	if err := runIP("-n", nsName, "link", "set", "lo", "up"); err != nil {
		return fmt.Errorf("netns %s: set lo up: %w", nsName, err)
	}
	return nil
}

// delNetns removes a named netns; a netns that is already gone is fine.
func delNetns(nsName string) error {
	if _, err := os.Stat(NSPath(nsName)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := runIP("netns", "del", nsName); err != nil {
		if _, serr := os.Stat(NSPath(nsName)); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete netns %s: %w", nsName, err)
	}
	return nil
}

// delLink removes a link inside a netns; a link or netns already gone is fine.
func delLink(nsName, dev string) error {
	if _, err := os.Stat(NSPath(nsName)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	err := runIP("-n", nsName, "link", "del", dev)
	if err != nil && (strings.Contains(err.Error(), "Cannot find device") ||
		strings.Contains(err.Error(), "does not exist")) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("netns %s: delete link %s: %w", nsName, dev, err)
	}
	return nil
}

// listNetns returns the names under /run/netns.
func listNetns() ([]string, error) {
	entries, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", NetnsDir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}
