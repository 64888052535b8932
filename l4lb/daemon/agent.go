package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/mesos"
	"github.com/dcnet/dcnet/l4lb/vip"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults and bounds of the Mesos agent source.
const (
	DefaultMesosPoll = 2 * time.Second
	// operatorAPIPath is the Operator API endpoint of a Mesos agent.
	operatorAPIPath = "/api/v1"
	agentTimeout    = 10 * time.Second
	agentRetryMin   = 200 * time.Millisecond
	agentRetryMax   = 30 * time.Second
	// maxStateBytes bounds a GET_STATE answer (a busy agent's is a few MB).
	maxStateBytes = 256 << 20
	// errBodyBytes is how much of a failed answer goes into the error.
	errBodyBytes = 256
)

// AgentOptions configure the Mesos agent source.
type AgentOptions struct {
	// Agent is the agent's base URL, http://<agent ip>:5051 ("" = none).
	Agent string
	// AgentIP is the agent's address for tasks whose agent hostname is
	// not an IP; the zero value takes the URL's host when it is an IP.
	AgentIP netip.Addr
	// Overlays are the overlay ranges: a port-mapped task with an address
	// in one is balanced to that address, not to agent IP:host port
	// (mesos.DefaultOverlays when nil).
	Overlays []netip.Prefix
	// Poll is the interval between GET_STATE polls (0 means
	// DefaultMesosPoll; negative is invalid).
	Poll time.Duration
	// Client is the HTTP client (a client with agentTimeout when nil).
	Client *http.Client
}

// agentSource polls the node's Mesos agent (Operator API GET_STATE) and
// keeps the VIP backends of the last answer that could be read; an
// unreachable agent leaves them as they were.
type agentSource struct {
	url      string
	agentIP  netip.Addr
	overlays []netip.Prefix
	node     string
	interval time.Duration
	client   *http.Client
	log      *slog.Logger
	// onChange is called after a poll that changed the backends;
	// onPoll after every poll.
	onChange func()
	onPoll   func(error)
	// ready is closed after the first successful poll.
	ready chan struct{}

	mu       sync.Mutex
	bindings []vip.Binding
	ok       bool
}

func newAgentSource(o AgentOptions, node string, log *slog.Logger) (*agentSource, error) {
	u, err := url.Parse(o.Agent)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mesos agent URL %q: want http://<agent ip>:5051", o.Agent)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = operatorAPIPath
	}
	ip := o.AgentIP
	if !ip.IsValid() {
		ip, _ = netip.ParseAddr(u.Hostname())
	}
	if o.Poll == 0 {
		o.Poll = DefaultMesosPoll
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: agentTimeout}
	}
	return &agentSource{url: u.String(), agentIP: ip, overlays: o.Overlays, node: node, interval: o.Poll, client: o.Client, log: log,
		onChange: func() {}, onPoll: func(error) {}, ready: make(chan struct{})}, nil
}

// Run polls until ctx ends: every interval while the agent answers, with
// a backoff from agentRetryMin up to max(interval, agentRetryMax) while
// it does not.
func (a *agentSource) Run(ctx context.Context) {
	backoff := agentRetryMin
	failing := false
	for ctx.Err() == nil {
		err := a.poll(ctx)
		if ctx.Err() != nil {
			return
		}
		a.onPoll(err)
		wait := a.interval
		switch {
		case err != nil:
			wait = backoff
			backoff = min(backoff*2, max(a.interval, agentRetryMax))
			if !failing {
				a.log.Warn("mesos agent unreachable, keeping its last backends", "agent", a.url, "err", err, "retry", wait)
			} else {
				a.log.Debug("mesos agent still unreachable", "agent", a.url, "err", err, "retry", wait)
			}
			failing = true
		case failing:
			a.log.Info("mesos agent answers again", "agent", a.url)
			failing, backoff = false, agentRetryMin
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// poll reads GET_STATE once and stores its backends.
func (a *agentSource) poll(ctx context.Context) error {
	st, err := a.getState(ctx)
	if err != nil {
		return err
	}
	bs, err := mesos.Backends(st, a.agentIP, a.overlays)
	if err != nil {
		a.log.Debug("mesos vip labels ignored", "agent", a.url, "err", err)
	}
	for i := range bs {
		bs[i].Backend.Node = a.node
	}
	a.mu.Lock()
	changed := !a.ok || !slices.Equal(a.bindings, bs)
	first := !a.ok
	a.bindings, a.ok = bs, true
	a.mu.Unlock()
	if first {
		close(a.ready)
	}
	if changed {
		a.log.Info("mesos agent backends", "agent", a.url, "bindings", len(bs))
		a.onChange()
	}
	return nil
}

func (a *agentSource) getState(ctx context.Context) (*mesos.GetState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, strings.NewReader(`{"type":"GET_STATE"}`))
	if err != nil {
		return nil, fmt.Errorf("mesos agent %s: %w", a.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mesos agent GET_STATE: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyBytes))
		return nil, fmt.Errorf("mesos agent %s GET_STATE: %s: %s", a.url, resp.Status, bytes.TrimSpace(b))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxStateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mesos agent %s GET_STATE: read answer: %w", a.url, err)
	}
	if len(data) > maxStateBytes {
		return nil, fmt.Errorf("mesos agent %s GET_STATE: answer over %d bytes", a.url, maxStateBytes)
	}
	st, err := mesos.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("mesos agent %s: %w", a.url, err)
	}
	return st, nil
}

// Bindings returns the backends of the last answer read, and whether one was.
func (a *agentSource) Bindings() ([]vip.Binding, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bindings, a.ok
}

// records returns the node's cluster.MesosBackendsPrefix records: one per task.
func (a *agentSource) records() (map[string][]byte, error) {
	bs, ok := a.Bindings()
	if !ok {
		return nil, fmt.Errorf("mesos agent %s not read yet", a.url)
	}
	return encodeMesosRecords(a.node, bs), nil
}

// encodeMesosRecords groups bs by task into full keys and JSON values.
func encodeMesosRecords(node string, bs []vip.Binding) map[string][]byte {
	byTask := map[string]*cluster.MesosBackends{}
	for _, b := range bs {
		r := byTask[b.Backend.Task]
		if r == nil {
			r = &cluster.MesosBackends{Task: b.Backend.Task}
			byTask[b.Backend.Task] = r
		}
		r.Backends = append(r.Backends, cluster.MesosBackend{
			Protocol: b.VIP.Protocol, Name: b.VIP.Name, Framework: b.VIP.Framework, VIP: b.VIP.IP, VIPPort: b.VIP.Port,
			IP: b.Backend.IP, Port: b.Backend.Port, NodeIP: b.Backend.NodeIP, Healthy: b.Backend.Healthy, Draining: b.Backend.Draining,
			Local: b.Backend.Local,
		})
	}
	out := make(map[string][]byte, len(byTask))
	for task, r := range byTask {
		v, _ := json.Marshal(r)
		out[cluster.NodeMesosBackendsPrefix(node)+url.PathEscape(task)] = v
	}
	return out
}

// parseMesosRecords reads the bindings of every node's cluster.MesosBackendsPrefix
// records (see decodeMesosRecord).
func parseMesosRecords(kvs []cluster.KV, log *slog.Logger) []vip.Binding {
	var out []vip.Binding
	for _, kv := range kvs {
		bs, err := decodeMesosRecord(kv.Key, kv.Value)
		if err != nil {
			log.Warn("mesos backend record ignored", "key", kv.Key, "err", err)
			continue
		}
		out = append(out, bs...)
	}
	return out
}

// nodeLease returns the lease of the node's liveness key (held by
// overlayd), 0 when there is none: the node's Mesos records live and die
// with the node.
func (d *Daemon) nodeLease() clientv3.LeaseID {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	resp, err := d.opts.Store.Client.Get(ctx, cluster.AliveKey(d.opts.Node))
	if err != nil || len(resp.Kvs) == 0 {
		return 0
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease)
}
