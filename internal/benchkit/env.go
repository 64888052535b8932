package benchkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Env is what a benchmark run makes: a temporary directory, a fabric of
// namespaces, the processes it starts and the clients it opens. Close
// removes all of it, also after a failure half way.
type Env struct {
	Tmp    string
	Fabric *netsim.Fabric
	// Began and LoadAtStart are when the run began and the load average
	// then, for Header.
	Began       time.Time
	LoadAtStart string

	mu      sync.Mutex
	procs   []*netsim.Process
	closers []func() error
}

// NewEnv makes a temporary directory named after pattern (os.MkdirTemp)
// and a fabric whose namespaces are named dcnet-<prefix>-*; on failure it
// removes what it made.
func NewEnv(pattern, prefix string) (*Env, error) {
	e := &Env{Began: time.Now().UTC(), LoadAtStart: LoadAverage()}
	var err error
	if e.Tmp, err = os.MkdirTemp("", pattern); err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	if e.Fabric, err = netsim.NewFabricNoT(prefix); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// OnClose registers fn to run first in Close (sockets, clients and handles
// go before the processes and namespaces they talk to). An fn that finds
// its socket already closed (net.ErrClosed) is not an error.
func (e *Env) OnClose(fn func() error) {
	e.mu.Lock()
	e.closers = append(e.closers, fn)
	e.mu.Unlock()
}

// Start runs argv inside node's netns with its output in log, and
// registers it to be stopped by PID in Close. StartProcess needs only the
// node's namespace and name, so a container or a bare namespace can pass
// &netsim.Node{Namespace: ns, Name: name}.
func (e *Env) Start(node *netsim.Node, log string, argv ...string) (*netsim.Process, error) {
	p, err := netsim.StartProcess(context.Background(), node, log, argv...)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p, nil
}

// Close runs the OnClose functions (newest first), stops every process by
// its PID (newest first), removes every namespace and the temporary
// directory. Safe to call on a half-built Env and repeatedly.
func (e *Env) Close() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	closers, procs := e.closers, e.procs
	e.closers, e.procs = nil, nil
	e.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for i := len(procs) - 1; i >= 0; i-- {
		errs = append(errs, procs[i].Stop())
	}
	if e.Fabric != nil {
		errs = append(errs, e.Fabric.Close())
		e.Fabric = nil
	}
	if e.Tmp != "" {
		errs = append(errs, os.RemoveAll(e.Tmp))
		e.Tmp = ""
	}
	return errors.Join(errs...)
}

// RunIn runs argv inside ns, bounded by timeout, with env added to this
// process's environment, and returns its standard output; the error names
// the namespace and the command and carries its standard error.
func RunIn(ctx context.Context, timeout time.Duration, ns netsim.Namespace, env []string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := ns.Exec(ctx, argv...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return string(out), fmt.Errorf("netns %s: %s: %w (stdout: %.300s)", ns.NSName, argv[0], err, out)
	}
	return string(out), nil
}
