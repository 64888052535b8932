package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// CNI commands measured.
const (
	opAdd = "ADD"
	opDel = "DEL"
)

// workload is one way of driving a plugin: N containers, ADDed with Workers
// invocations in flight, then DELed the same way.
type workload struct {
	Key     string // "seq" or "conc", part of container IDs
	Label   string // "sequential", "8 concurrent"
	N       int
	Workers int
}

// job is one container of a workload.
type job struct {
	ID    string // CNI_CONTAINERID
	NetNS string // CNI_NETNS
}

// series collects one plugin's latencies of one op in one workload over
// the measured rounds.
type series struct {
	Lat  []time.Duration
	Wall time.Duration // summed wall time of the phases
	// RoundMedians has the median of each measured round, to show drift.
	RoundMedians []time.Duration
}

// seriesKey names a series.
type seriesKey struct{ Plugin, Workload, Op string }

// results is what the rounds and the breakdown measured.
type results struct {
	Plugins   []*plugin // dcnet first, then the reference
	Workloads []workload
	Series    map[seriesKey]*series
	Shapes    map[string]string // plugin -> what its ADD gave the container
	Tmp       string            // the run's temporary directory, "<tmp>" in the report
	Breakdown breakdown
}

// bench drives the plugins over the workloads.
type bench struct {
	env   *env
	bins  binaries
	opts  options
	out   io.Writer
	drv   *driver
	dcnet *plugin
	ref   *plugin
}

func newBench(e *env, o options, out io.Writer) (*bench, error) {
	drv, err := newDriver(e.Node.Namespace)
	if err != nil {
		return nil, err
	}
	dcnet, ref := newPlugins(e)
	return &bench{env: e, bins: e.Bins, opts: o, out: out, drv: drv, dcnet: dcnet, ref: ref}, nil
}

// workloads returns the sequential and the concurrent workload.
func (b *bench) workloads() []workload {
	return []workload{
		{Key: "seq", Label: "sequential", N: b.opts.Seq, Workers: 1},
		{Key: "conc", Label: fmt.Sprintf("%d concurrent", b.opts.Workers), N: b.opts.Conc, Workers: b.opts.Workers},
	}
}

// measure checks that both plugins wire a container alike, runs a warm-up
// round and the measured rounds, alternating which plugin goes first so
// that drift of the machine hits both, then times the breakdown.
func (b *bench) measure(ctx context.Context) (*results, error) {
	res := &results{
		Plugins:   []*plugin{b.dcnet, b.ref},
		Workloads: b.workloads(),
		Series:    map[seriesKey]*series{},
		Shapes:    map[string]string{},
		Tmp:       b.env.Tmp,
	}
	for _, p := range res.Plugins {
		shape, err := b.checkShape(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("shape check of %s: %w", p.Name, err)
		}
		res.Shapes[p.Name] = shape
		fmt.Fprintf(b.out, "bench/cni: %-5s ADD gives %s\n", p.Name, shape)
	}
	for round := 0; round <= b.opts.Rounds; round++ {
		order := []*plugin{b.dcnet, b.ref}
		if round%2 == 1 {
			order = []*plugin{b.ref, b.dcnet}
		}
		what := fmt.Sprintf("round %d/%d", round, b.opts.Rounds)
		if round == 0 {
			what = "warm-up round (discarded)"
		}
		start := time.Now()
		for _, wl := range res.Workloads {
			for _, p := range order {
				if err := b.runWorkload(ctx, p, wl, round, res); err != nil {
					return nil, fmt.Errorf("%s, %s workload, plugin %s: %w", what, wl.Label, p.Name, err)
				}
			}
		}
		fmt.Fprintf(b.out, "bench/cni: %s done in %v (order %s, %s)\n", what, time.Since(start).Round(time.Millisecond), order[0].Name, order[1].Name)
	}
	bd, err := b.measureBreakdown(ctx)
	if err != nil {
		return nil, fmt.Errorf("breakdown: %w", err)
	}
	res.Breakdown = bd
	return res, nil
}

// runWorkload ADDs then DELs the workload's containers with p, checks that
// nothing is left, and records the latencies unless it is the warm-up.
func (b *bench) runWorkload(ctx context.Context, p *plugin, wl workload, round int, res *results) error {
	jobs := make([]job, wl.N)
	for i := range jobs {
		jobs[i] = job{
			ID:    fmt.Sprintf("bcni-%s-r%d-%s-%03d", p.Name, round, wl.Key, i),
			NetNS: b.env.Containers[i].Path,
		}
	}
	for _, op := range []string{opAdd, opDel} {
		lat, wall, err := b.phase(ctx, p, op, jobs, wl.Workers)
		if err != nil {
			return err
		}
		if round == 0 {
			continue
		}
		k := seriesKey{Plugin: p.Name, Workload: wl.Key, Op: op}
		s := res.Series[k]
		if s == nil {
			s = &series{}
			res.Series[k] = s
		}
		s.Lat = append(s.Lat, lat...)
		s.Wall += wall
		s.RoundMedians = append(s.RoundMedians, summarize(lat).Median)
	}
	return b.checkClean(ctx, jobs)
}

// phase runs op over every job with workers invocations in flight and
// returns each job's latency and the phase's wall time. Each worker
// verifies its netns before the clock starts. The first failure stops
// the phase.
func (b *bench) phase(ctx context.Context, p *plugin, op string, jobs []job, workers int) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([]time.Duration, len(jobs))
	next := make(chan int)
	ready := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			signal := func(err error) { once.Do(func() { ready <- err }) }
			err := b.drv.inNode(ctx, func() error {
				signal(nil)
				for i := range next {
					took, err := b.invoke(ctx, p, op, jobs[i])
					if err != nil {
						return err
					}
					lat[i] = took
				}
				return nil
			})
			signal(err)
			if err != nil {
				cancel(err)
			}
		}()
	}
	for range workers {
		if err := <-ready; err != nil {
			cancel(err)
		}
	}
	start := time.Now()
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	wall := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, 0, err
	}
	return lat, wall, nil
}

// invoke runs one ADD or DEL.
func (b *bench) invoke(ctx context.Context, p *plugin, op string, j job) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	switch op {
	case opAdd:
		took, _, err := b.drv.add(ctx, p, j.ID, j.NetNS)
		return took, err
	case opDel:
		return b.drv.del(ctx, p, j.ID, j.NetNS)
	}
	return 0, errors.New("unknown CNI command " + op)
}
