package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Convergence settings.
const (
	// pollInterval is how often each observer is checked: the measurement
	// error is at most this plus one check.
	pollInterval    = 5 * time.Millisecond
	convergeTimeout = 15 * time.Second
	recordTimeout   = 60 * time.Second
	settleTimeout   = 30 * time.Second
)

// convergeResult holds one latency per join and per leave.
type convergeResult struct {
	Base, Joins    int
	Join, Leave    []time.Duration // anchor -> last observer done
	StartToRecord  []time.Duration // overlayd start -> its node record in the store
	ObserversJoin  []int           // how many nodes had to converge, per join
	ObserversLeave []int
	// SmallRSSKiB is the VmRSS of a base node's overlayd with SmallPeers
	// peers, when the cluster was largest: the baseline of the scale
	// phase's memory figure.
	SmallRSSKiB, SmallPeers int
}

// runConvergence starts o.Base nodes, then joins o.Joins more one at a
// time and removes them again one at a time, timing each from the store
// event until every other running node programs (or drops) the peer.
func runConvergence(ctx context.Context, e *env, o options, log io.Writer) (convergeResult, error) {
	res := convergeResult{Base: o.Base, Joins: o.Joins}
	etcd, err := e.startEtcd(ctx, "cm")
	if err != nil {
		return res, err
	}
	defer etcd.Stop()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := benchkit.Watch(wctx, etcd.Client, cluster.NodesPrefix)
	if err != nil {
		return res, err
	}
	var names []string
	for i := 1; i <= o.Base; i++ {
		names = append(names, fmt.Sprintf("b%d", i))
	}
	running, subnets, stop, err := e.startCluster(ctx, etcd.Endpoints(), settleTimeout, names...)
	defer stop()
	if err != nil {
		return res, err
	}
	var joined []*node
	for i := 1; i <= o.Joins; i++ {
		nd, err := e.addNode(fmt.Sprintf("j%02d", i))
		if err != nil {
			return res, err
		}
		start := time.Now()
		if err := e.startOverlayd(nd, etcd.Endpoints(), ""); err != nil {
			return res, err
		}
		defer nd.OD.Proc.Stop()
		ev, err := awaitRecord(ctx, w, cluster.NodesPrefix+nd.Name, true, 0, recordTimeout)
		if err != nil {
			return res, fmt.Errorf("join %s: %w\n%s", nd.Name, err, netsim.TailFile(nd.OD.Proc.LogPath, 15))
		}
		sub, err := recordSubnet(ev.Value)
		if err != nil {
			return res, fmt.Errorf("join %s: %w", nd.Name, err)
		}
		subnets[nd.Name] = sub
		done, err := awaitObservers(ctx, running, nd.Name, sub, true)
		if err != nil {
			return res, fmt.Errorf("join %s: %w", nd.Name, err)
		}
		lat := done.Sub(ev.At)
		res.Join = append(res.Join, lat)
		res.StartToRecord = append(res.StartToRecord, ev.At.Sub(start))
		res.ObserversJoin = append(res.ObserversJoin, len(running))
		fmt.Fprintf(log, "bench/overlay: join  %s: %2d nodes converged %7.1f ms after its record appeared\n", nd.Name, len(running), ms(lat))
		running = append(running, nd)
		joined = append(joined, nd)
		// Untimed: the whole cluster, the new node included, settles
		// before the next join.
		if err := converged(ctx, running, subnets, settleTimeout); err != nil {
			return res, err
		}
	}
	mem, err := benchkit.ReadMemory(running[0].OD.Proc.PID())
	if err != nil {
		return res, err
	}
	res.SmallRSSKiB = mem.RSSKiB()
	res.SmallPeers = len(running) - 1
	for _, nd := range joined {
		if err := nd.OD.Proc.Stop(); err != nil {
			return res, err
		}
		running = slices.DeleteFunc(running, func(x *node) bool { return x == nd })
		if _, err := runIn(ctx, running[0].Namespace, nil, e.Bins.Dcnetctl, "--socket", running[0].OD.Socket(), "node", "remove", nd.Name); err != nil {
			return res, fmt.Errorf("leave %s: %w", nd.Name, err)
		}
		ev, err := awaitRecord(ctx, w, cluster.NodesPrefix+nd.Name, false, 0, recordTimeout)
		if err != nil {
			return res, fmt.Errorf("leave %s: %w", nd.Name, err)
		}
		done, err := awaitObservers(ctx, running, nd.Name, subnets[nd.Name], false)
		if err != nil {
			return res, fmt.Errorf("leave %s: %w", nd.Name, err)
		}
		lat := done.Sub(ev.At)
		res.Leave = append(res.Leave, lat)
		res.ObserversLeave = append(res.ObserversLeave, len(running))
		fmt.Fprintf(log, "bench/overlay: leave %s: %2d nodes converged %7.1f ms after its record was deleted\n", nd.Name, len(running), ms(lat))
	}
	return res, nil
}

// recordSubnet returns the dcos subnet of a node record.
func recordSubnet(value []byte) (netip.Prefix, error) {
	var n cluster.Node
	if err := json.Unmarshal(value, &n); err != nil {
		return netip.Prefix{}, fmt.Errorf("node record %q: %w", value, err)
	}
	if len(n.Subnets[overlayName]) == 0 {
		return netip.Prefix{}, fmt.Errorf("node record %q has no %s subnet", value, overlayName)
	}
	return netip.ParsePrefix(n.Subnets[overlayName][0])
}

// awaitObservers polls every observer each pollInterval until its kernel
// has (present) or no longer has the route to subnet through vtep1024 and
// its API lists (or no longer lists) peer name, and returns when the last
// observer got there.
func awaitObservers(ctx context.Context, observers []*node, name string, subnet netip.Prefix, present bool) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, convergeTimeout)
	defer cancel()
	var (
		mu   sync.Mutex
		last time.Time
		errs []error
		wg   sync.WaitGroup
	)
	for _, nd := range observers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, err := pollObserver(ctx, nd, name, subnet, present)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if at.After(last) {
				last = at
			}
		}()
	}
	wg.Wait()
	return last, errors.Join(errs...)
}

// pollObserver checks one observer until it is done; the kernel is read
// first, the API only once the kernel is right.
func pollObserver(ctx context.Context, nd *node, name string, subnet netip.Prefix, present bool) (time.Time, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error
	for {
		if routes, err := nd.vtepRoutes(); err != nil {
			last = err
		} else if routes[subnet] != present {
			last = fmt.Errorf("route %s present=%v", subnet, routes[subnet])
		} else if names, err := nd.peerNames(ctx); err != nil {
			last = err
		} else if slices.Contains(names, name) != present {
			last = fmt.Errorf("API peers %v", names)
		} else {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return time.Time{}, fmt.Errorf("%s: interrupted while waiting for peer %s", nd.Name, name)
			}
			return time.Time{}, fmt.Errorf("%s did not converge on peer %s within %v: %v", nd.Name, name, convergeTimeout, last)
		case <-t.C:
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
