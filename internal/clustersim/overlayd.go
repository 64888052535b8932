package clustersim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// Bounds of waiting for overlayd.
const (
	overlaydReadyInterval = 20 * time.Millisecond
	apiTimeout            = 5 * time.Second
)

// Overlayd is overlayd on one node, with its run and state directories,
// logs and socket under Dir. Set the optional fields before Launch.
type Overlayd struct {
	Node *netsim.Node
	Bin  string // the overlayd binary
	Dir  string
	// Config is the path of a config file, "" for the defaults.
	Config string
	// Etcd is --etcd-endpoints; "" lets overlayd embed a member.
	Etcd string
	// Metrics is --metrics-addr; "" (the zero value) disables it.
	Metrics string
	// Extra are more flags.
	Extra []string

	// Proc is the running process and Log its log, after Launch.
	Proc *netsim.Process
	Log  string
	// API talks to it over its socket.
	API *api.Client

	owner    Owner
	launches int
}

// NewOverlayd describes overlayd bin on node with its files under dir; it
// starts nothing.
func NewOverlayd(owner Owner, node *netsim.Node, bin, dir string) *Overlayd {
	o := &Overlayd{Node: node, Bin: bin, Dir: dir, owner: owner}
	o.API = api.NewClient(o.Socket())
	return o
}

// Socket is the path of overlayd's local API socket.
func (o *Overlayd) Socket() string { return filepath.Join(o.Dir, "run", "overlayd.sock") }

// Argv is overlayd's command line.
func (o *Overlayd) Argv() []string {
	argv := []string{o.Bin, "--node-name", o.Node.Name, "--underlay-ip", o.Node.UnderlayIP.String(),
		"--run-dir", filepath.Join(o.Dir, "run"), "--state-dir", filepath.Join(o.Dir, "state"), "--metrics-addr", o.Metrics}
	if o.Config != "" {
		argv = append(argv, "--config", o.Config)
	}
	if o.Etcd != "" {
		argv = append(argv, "--etcd-endpoints", o.Etcd)
	}
	return append(argv, o.Extra...)
}

// Launch starts overlayd without waiting, with a new log each time
// (overlayd-0.log, overlayd-1.log, ...: a restart keeps the old one).
func (o *Overlayd) Launch() error {
	o.Log = filepath.Join(o.Dir, fmt.Sprintf("overlayd-%d.log", o.launches))
	o.launches++
	p, err := o.owner.Start(o.Node, o.Log, o.Argv()...)
	if err != nil {
		return fmt.Errorf("start overlayd on %s: %w", o.Node.Name, err)
	}
	o.Proc = p
	return nil
}

// WaitReady waits up to timeout until overlayd serves its API and its
// first overlay has the node's subnet (IPv4 or IPv6), and returns its
// networks. It gives up early when overlayd exits.
func (o *Overlayd) WaitReady(ctx context.Context, timeout time.Duration) ([]api.Network, error) {
	var nets []api.Network
	err := netsim.WaitFor(ctx, timeout, overlaydReadyInterval, func() error {
		if o.Proc.Exited() {
			return errors.New("overlayd exited")
		}
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		var err error
		if nets, err = o.API.Networks(cctx); err != nil {
			return err
		}
		if len(nets) == 0 || (nets[0].NodeSubnet == "" && nets[0].NodeSubnet6 == "") {
			return errors.New("no subnet yet")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("overlayd on %s not ready: %w\n%s", o.Node.Name, err, netsim.TailFile(o.Log, logLines))
	}
	return nets, nil
}

// Start is Launch, then WaitReady.
func (o *Overlayd) Start(ctx context.Context, timeout time.Duration) ([]api.Network, error) {
	if err := o.Launch(); err != nil {
		return nil, err
	}
	return o.WaitReady(ctx, timeout)
}

// Network returns the network named name of nets.
func Network(nets []api.Network, name string) (api.Network, error) {
	for _, n := range nets {
		if n.Name == name {
			return n, nil
		}
	}
	return api.Network{}, fmt.Errorf("overlayd has no network %s (networks: %+v)", name, nets)
}
