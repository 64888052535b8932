package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Scale settings.
const (
	scaleMetricsAddr = "127.0.0.1:62091" // inside the node's own netns
	metricsPoll      = time.Millisecond
	fdbEventBuffer   = 1 << 14
	changeTimeout    = 10 * time.Second
	initialTimeout   = 120 * time.Second
	initialPollEvery = 20 * time.Millisecond
	changeGap        = 20 * time.Millisecond
	breakdownSamples = 20
	scaleNodeName    = "s1"
	scaleMasterName  = "sm"
)

// scaleResult is the control-plane measurement with n simulated peers.
type scaleResult struct {
	Peers int
	// Initial is overlayd start -> every peer's route in the kernel.
	Initial time.Duration
	// Change is a record change seen by the store watch -> the kernel
	// announcing the new FDB entry (the write of the reconcile applying it).
	Change []time.Duration
	// Reconcile is the duration overlayd measured for that reconcile (its
	// histogram's sum delta, when the count moved by exactly one);
	// SharedReconciles counts changes where another reconcile ran in the
	// window too, left out of Reconcile.
	Reconcile        []time.Duration
	SharedReconciles int
	// Plan and DecodePlan are in-process PlanPeers+DiffPeers timings.
	Plan, DecodePlan []time.Duration
	// The kernel read and the iptables checks of a full read-back pass.
	ReadPeerState, Iptables []time.Duration
	IptablesExecs           int
	RSSKiB, HWMKiB          int
	HeapInuse               float64 // bytes, from go_memstats_heap_inuse_bytes
}

// runScale writes n simulated node records to a fresh etcd, starts one
// real overlayd in its own netns (real kernel, private to it) and measures
// initial programming, per-change latency and memory.
func runScale(ctx context.Context, e *env, o options, log io.Writer) (scaleResult, error) {
	res := scaleResult{Peers: o.Sims}
	etcd, err := e.startEtcd(ctx, scaleMasterName)
	if err != nil {
		return res, err
	}
	defer etcd.Stop()
	if err := writeSims(ctx, etcd.Client, o.Sims); err != nil {
		return res, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := benchkit.Watch(wctx, etcd.Client, cluster.NodesPrefix)
	if err != nil {
		return res, err
	}
	nd, err := e.addNode(scaleNodeName)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := e.startOverlayd(nd, etcd.Endpoints(), scaleMetricsAddr); err != nil {
		return res, err
	}
	defer nd.OD.Proc.Stop()
	if _, err := nd.waitReady(ctx); err != nil {
		return res, err
	}
	err = netsim.WaitFor(ctx, initialTimeout, initialPollEvery, func() error {
		routes, err := nd.vtepRoutes()
		if err != nil {
			return err
		}
		if len(routes) < o.Sims {
			return fmt.Errorf("%d of %d peer routes in the kernel", len(routes), o.Sims)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("initial programming of %d peers: %w\n%s", o.Sims, err, netsim.TailFile(nd.OD.Proc.LogPath, 15))
	}
	res.Initial = time.Since(start)
	if names, err := nd.peerNames(ctx); err != nil || len(names) != o.Sims {
		return res, fmt.Errorf("overlayd on %s lists %d peers, want %d (%v)", nd.Name, len(names), o.Sims, err)
	}
	fmt.Fprintf(log, "bench/overlay: scale: %d peers programmed %.2f s after overlayd started\n", o.Sims, res.Initial.Seconds())
	m := newScraper(e, nd.Namespace, scaleMetricsAddr)
	fdb, err := watchFDB(wctx, nd.Namespace)
	if err != nil {
		return res, err
	}
	time.Sleep(500 * time.Millisecond) // let the start-up reconciles finish
	if err := measureChanges(ctx, &res, o, etcd, w, nd, m, fdb); err != nil {
		return res, err
	}
	mem, err := benchkit.ReadMemory(nd.OD.Proc.PID())
	if err != nil {
		return res, err
	}
	res.RSSKiB, res.HWMKiB = mem.RSSKiB(), mem.HWMKiB()
	if s, err := m.scrape(ctx); err == nil {
		res.HeapInuse = s["go_memstats_heap_inuse_bytes"]
	}
	if err := measureBreakdown(&res, nd); err != nil {
		return res, err
	}
	res.Plan, res.DecodePlan, err = planTimes(o.Sims, o.Changes, nd.UnderlayIP)
	return res, err
}

// measureChanges moves one simulated node's underlay address per change
// and times it from the store event until the kernel reports the new FDB
// entry, then reads the reconcile's own duration from overlayd's metrics.
func measureChanges(ctx context.Context, res *scaleResult, o options, etcd *clustersim.Etcd, w *benchkit.Watcher, nd *node, m *scraper, fdb *fdbWatch) error {
	moved := make([]bool, o.Sims)
	for k := range o.Changes {
		i := changeIndex(k, o.Sims)
		moved[i] = !moved[i]
		rec := simNode(i, moved[i], time.Now())
		before, err := m.scrape(ctx)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(rec)
		cctx, cancel := context.WithTimeout(ctx, etcdOpTimeout)
		put, err := etcd.Client.Put(cctx, cluster.NodesPrefix+rec.Name, string(b))
		cancel()
		if err != nil {
			return fmt.Errorf("change %d: %w", k, err)
		}
		ev, err := awaitRecord(ctx, w, cluster.NodesPrefix+rec.Name, true, put.Header.Revision-1, changeTimeout)
		if err != nil {
			return fmt.Errorf("change %d: %w", k, err)
		}
		done, err := fdb.await(ctx, rec.VTEPMAC, rec.UnderlayIP, ev.At.Add(-time.Second), changeTimeout)
		if err != nil {
			return fmt.Errorf("change %d (%s underlay %s): %w", k, rec.Name, rec.UnderlayIP, err)
		}
		res.Change = append(res.Change, done.Sub(ev.At))
		after, err := awaitReconciled(ctx, m, before[countKey])
		if err != nil {
			return fmt.Errorf("change %d: %w", k, err)
		}
		if after[countKey]-before[countKey] == 1 {
			res.Reconcile = append(res.Reconcile, time.Duration((after[sumKey]-before[sumKey])*float64(time.Second)))
		} else {
			res.SharedReconciles++
		}
		time.Sleep(changeGap)
	}
	return nil
}

// Metrics of overlayd's reconcile histogram.
const (
	sumKey   = "dcnet_overlayd_reconcile_duration_seconds_sum"
	countKey = "dcnet_overlayd_reconcile_duration_seconds_count"
)

// awaitReconciled scrapes until the reconcile count passes count (the
// reconcile that wrote the kernel has recorded its duration).
func awaitReconciled(ctx context.Context, m *scraper, count float64) (map[string]float64, error) {
	deadline := time.Now().Add(changeTimeout)
	for time.Now().Before(deadline) {
		s, err := m.scrape(ctx)
		if err != nil {
			return nil, err
		}
		if s[countKey] > count {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(metricsPoll):
		}
	}
	return nil, fmt.Errorf("reconcile count did not move within %v", changeTimeout)
}

// fdbWatch records when the kernel of a netns announces FDB entries
// (RTM_NEWNEIGH of family AF_BRIDGE, as `bridge monitor fdb` sees them).
type fdbWatch struct {
	mu     sync.Mutex
	seen   map[string]time.Time // "mac dst" -> last announcement
	notify chan struct{}
}

// watchFDB subscribes to neighbour events inside ns until ctx ends.
func watchFDB(ctx context.Context, ns netsim.Namespace) (*fdbWatch, error) {
	h, err := netns.GetFromPath(ns.Path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", ns.NSName, err)
	}
	defer h.Close()
	ch := make(chan netlink.NeighUpdate, fdbEventBuffer)
	err = netlink.NeighSubscribeWithOptions(ch, ctx.Done(), netlink.NeighSubscribeOptions{Namespace: &h})
	if err != nil {
		return nil, fmt.Errorf("subscribe to neighbour events in %s: %w", ns.NSName, err)
	}
	f := &fdbWatch{seen: map[string]time.Time{}, notify: make(chan struct{}, 1)}
	go func() {
		for u := range ch {
			at := time.Now()
			if u.Type != unix.RTM_NEWNEIGH || u.Family != unix.AF_BRIDGE || u.IP == nil {
				continue
			}
			f.mu.Lock()
			f.seen[u.HardwareAddr.String()+" "+u.IP.String()] = at
			f.mu.Unlock()
			select {
			case f.notify <- struct{}{}:
			default:
			}
		}
	}()
	return f, nil
}

// await returns when the kernel announced mac -> dst after since.
func (f *fdbWatch) await(ctx context.Context, mac, dst string, since time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		at, ok := f.seen[mac+" "+dst]
		f.mu.Unlock()
		if ok && at.After(since) {
			return at, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("no fdb %s dst %s announced within %v", mac, dst, timeout)
		case <-f.notify:
		}
	}
}
