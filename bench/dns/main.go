// Command dns measures dcnet-dns against CoreDNS on the same machine in the
// same run (DESIGN.md, "Benchmarks"):
//
//  1. queries per second with dnsperf, for cluster names (task names
//     <task>.marathon.autoip.dcos.thisdcos.directory, which a node's
//     dcnet-dns serves from etcd as a real node does: a Mesos-DNS master,
//     dcnet-dns --mode mesos-dns, polls the generated Mesos state and
//     publishes the task names there, next to named VIP records written as
//     dcnet-l4lb writes them; CoreDNS serves the same A records from zone
//     files) and for cached forwarded names (both forward to the same
//     unbound through their caches): target >= 1.5x CoreDNS;
//  2. p50 and p99 latency of the same queries at the same fixed rate for
//     both (dnsperf 2.10 prints no percentiles; `dnsperf -v` prints each
//     query's latency): target p99 no worse than CoreDNS;
//  3. the node's resident memory (VmRSS) with 100,000 cluster records
//     (30,000 tasks: 90,000 task names; 10,000 named VIPs), after loading
//     and after the queries: target <= 150 MB. As context, the VmRSS of a
//     node-mode dcnet-dns reading a 100,000-task state file itself
//     (--mesos-state-file: 300,000 task names plus 400,000 mesos records).
//
// It prints every ratio and writes its section of docs/benchmarks.md. Run
// it as root from the repository root (`make bench` also installs CoreDNS
// into bin/ first; without it the bench installs it there itself):
//
//	go run ./bench/dns          # full run (about 3 minutes); updates docs/benchmarks.md
//	go run ./bench/dns -short   # smoke run; writes nothing
//
// dcnet-dns re-reads the state file every --refresh, as it polls a Mesos
// master; -refresh 1h takes that work out of the measurement.
//
// Everything runs in network namespaces named dcnet-bdns-...; the host's own
// namespace is never touched (it is snapshotted before and compared after)
// and every namespace, process and temporary file is removed at the end.
package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// program is this benchmark's main: its name, namespaces and section.
var program = benchkit.Bench{Name: "dns", Prefix: netsimPrefix, Section: sectionTitle}

// Targets (the acceptance criteria).
const (
	targetQPSRatio = 1.5         // dcnet-dns qps / CoreDNS qps, at least
	targetP99Ratio = 1.0         // dcnet-dns p99 / CoreDNS p99, at most
	targetRSS      = 150_000_000 // bytes of VmRSS with 100,000 cluster records, at most
	warmUp         = 1 * time.Second
	// latencyLoad is the fixed rate of the latency runs, as a fraction of
	// the slower server's median throughput, so neither is saturated.
	latencyLoad = 0.5
	minRate     = 100
)

// CPUs of -pin.
const (
	serverCPUIndex = 0
	clientCPUIndex = 1
)

// serverCPU and clientCPU prefix the servers' and dnsperf's command lines
// with -pin (taskset), else they are empty.
var serverCPU, clientCPU []string

// options are the command-line flags.
type options struct {
	benchkit.Flags
	Rounds     int
	Seconds    int // per throughput run
	LatSeconds int // per latency run
	Tasks      int
	VIPs       int
	StateTasks int // tasks of the state-file context figure; 0: none
	Queries    int // distinct cluster names in the query file
	GoMaxProcs int
	// Pin runs both servers on CPU serverCPU and dnsperf on clientCPU.
	Pin     bool
	Refresh time.Duration // dcnet-dns --refresh; 0: its default
	Bin     string
}

func main() {
	benchkit.Main(program, parseFlags, runBench)
}

// parseFlags reads the flags; -short changes the defaults of the flags it
// is not given explicitly.
func parseFlags(args []string) (options, error) {
	fs := program.FlagSet()
	var o options
	fs.IntVar(&o.Rounds, "rounds", 3, "measured rounds; each runs every server and query set once, alternating order")
	fs.IntVar(&o.Seconds, "seconds", 8, "seconds per throughput run")
	fs.IntVar(&o.LatSeconds, "latency-seconds", 3, "seconds per fixed-rate latency run (two per server and query set)")
	fs.IntVar(&o.Tasks, "tasks", 30_000, "running tasks in the generated cluster (one name of each kind per task, so 3 records each)")
	fs.IntVar(&o.VIPs, "vips", 10_000, "named VIPs in etcd (one A record each)")
	fs.IntVar(&o.StateTasks, "state-tasks", 100_000, "tasks of the state file read by a second, node-mode dcnet-dns for the context memory figure (0: skip)")
	fs.IntVar(&o.Queries, "queries", 10_000, "distinct cluster names in the query file")
	fs.IntVar(&o.GoMaxProcs, "gomaxprocs", 0, "GOMAXPROCS of both servers (0: 1 with -pin, else the number of CPUs)")
	fs.BoolVar(&o.Pin, "pin", runtime.NumCPU() >= 2, "pin both servers to CPU 0 and dnsperf to CPU 1 (taskset), so the client does not take the CPU of the server it measures")
	fs.DurationVar(&o.Refresh, "refresh", 0, "--refresh of the Mesos-DNS master and the state-file node, how often they re-read the Mesos state (0: dcnet-dns's default)")
	fs.StringVar(&o.Bin, "bin", "bin", "directory holding (or receiving) coredns "+corednsVersion)
	short := map[string]string{"rounds": "1", "seconds": "2", "latency-seconds": "2", "tasks": "3000", "vips": "1000", "state-tasks": "0"}
	if err := program.Parse(fs, args, &o.Flags, short); err != nil {
		return o, err
	}
	if o.GoMaxProcs == 0 {
		o.GoMaxProcs = runtime.NumCPU()
		if o.Pin {
			o.GoMaxProcs = 1
		}
	}
	if o.Pin {
		clientCPU = []string{"taskset", "-c", strconv.Itoa(clientCPUIndex)}
		serverCPU = []string{"taskset", "-c", strconv.Itoa(serverCPUIndex)}
	}
	for _, f := range []struct {
		name   string
		v      int
		lo, hi int
	}{{"rounds", o.Rounds, 1, 10}, {"seconds", o.Seconds, 1, 60}, {"latency-seconds", o.LatSeconds, 1, 60},
		{"tasks", o.Tasks, 1, 1_000_000}, {"vips", o.VIPs, 0, 1_000_000}, {"state-tasks", o.StateTasks, 0, 1_000_000},
		{"queries", o.Queries, 1, 1_000_000}, {"gomaxprocs", o.GoMaxProcs, 1, 1024}} {
		if f.v < f.lo || f.v > f.hi {
			return o, fmt.Errorf("-%s %d out of range [%d, %d]", f.name, f.v, f.lo, f.hi)
		}
	}
	if o.Refresh < 0 {
		return o, fmt.Errorf("-refresh %v: want 0 (default) or a positive duration", o.Refresh)
	}
	return o, nil
}

// querySet is one query file asked of both servers.
type querySet struct {
	Name string
	File string
}

// results are every measurement of the run.
type results struct {
	Sets       []querySet
	Throughput map[string]map[string][]perfResult // set -> server -> rounds
	Latency    map[string]map[string]latencyRun   // set -> server
	Loaded     map[string]benchkit.Memory         // server -> after loading
	After      map[string]benchkit.Memory         // server -> after the queries
	// State is the context figure: a node reading a state file itself.
	State stateFigure
}

// runBench sets up in be, measures and returns the report.
func runBench(ctx context.Context, be *benchkit.Env, o options, stdout io.Writer) (string, error) {
	e, err := newEnv(ctx, be, o, stdout)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stdout, "bench/dns: %s ready in %v, %s in %v (namespaces dcnet-%s-*, %s)\n",
		e.Servers[0].Name, e.Servers[0].Ready.Round(time.Millisecond), e.Servers[1].Name, e.Servers[1].Ready.Round(time.Millisecond), netsimPrefix, e.Tmp)
	res, err := measure(ctx, e, o, stdout)
	if err != nil {
		return "", err
	}
	rep := report{Opts: o, Env: e, Res: res}
	for _, l := range rep.Ratios() {
		fmt.Fprintln(stdout, "bench/dns: "+l)
	}
	md := rep.Markdown()
	fmt.Fprint(stdout, "\n"+md)
	return md, nil
}

// measure reads memory after loading, runs the warm-ups, the interleaved
// throughput rounds and the fixed-rate latency runs, and reads memory
// again.
func measure(ctx context.Context, e *env, o options, stdout io.Writer) (results, error) {
	res := results{
		Sets:       []querySet{{"cluster name", e.Data.ClusterQueries}, {"cached forwarded name", e.Data.ForwardQueries}},
		Throughput: map[string]map[string][]perfResult{},
		Latency:    map[string]map[string]latencyRun{},
		Loaded:     map[string]benchkit.Memory{},
		After:      map[string]benchkit.Memory{},
	}
	client := e.Client.Namespace
	for _, s := range e.Servers {
		m, err := benchkit.ReadMemory(s.Proc.PID())
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.Name, err)
		}
		res.Loaded[s.Name] = m
	}
	for _, qs := range res.Sets {
		res.Throughput[qs.Name] = map[string][]perfResult{}
		res.Latency[qs.Name] = map[string]latencyRun{}
		for _, s := range e.Servers {
			if _, err := dnsperf(ctx, client, s.Addr, qs.File, warmUp); err != nil {
				return res, fmt.Errorf("warm-up %s, %s: %w", s.Name, qs.Name, err)
			}
		}
	}
	d := time.Duration(o.Seconds) * time.Second
	for r := range o.Rounds {
		for i, qs := range res.Sets {
			order := slices.Clone(e.Servers)
			if (r+i)%2 == 1 {
				slices.Reverse(order)
			}
			for _, s := range order {
				p, err := throughput(ctx, client, s.Addr, qs.File, d)
				if err != nil {
					return res, fmt.Errorf("%s, %s: %w", s.Name, qs.Name, err)
				}
				fmt.Fprintf(stdout, "bench/dns: round %d %-22s %-9s %9.0f q/s, avg latency %v, lost %d, not NOERROR %d, CPU busy server/dnsperf %s\n",
					r+1, qs.Name, s.Name, p.QPS, p.AvgLatency, p.Lost, p.NonNoerror, busyPair([]perfResult{p}))
				res.Throughput[qs.Name][s.Name] = append(res.Throughput[qs.Name][s.Name], p)
			}
		}
	}
	ld := time.Duration(o.LatSeconds) * time.Second
	for i, qs := range res.Sets {
		slowest := -1.0
		for _, s := range e.Servers {
			if q := medianQPS(res.Throughput[qs.Name][s.Name]); slowest < 0 || q < slowest {
				slowest = q
			}
		}
		rate := max(minRate, int(slowest*latencyLoad)/100*100)
		runs := map[string]*latencyRun{}
		a, b := e.Servers[0], e.Servers[1]
		if i%2 == 1 {
			a, b = b, a
		}
		for _, s := range []*server{a, b, b, a} { // ABBA: a drift in load hits both alike
			l := runs[s.Name]
			if l == nil {
				l = &latencyRun{Rate: rate}
				runs[s.Name] = l
			}
			cpu0, err := readCPU(s.Proc.PID())
			if err != nil {
				return res, fmt.Errorf("%s: %w", s.Name, err)
			}
			if err := l.add(ctx, client, s.Addr, qs.File, ld); err != nil {
				return res, fmt.Errorf("latency %s, %s: %w", s.Name, qs.Name, err)
			}
			cpu1, err := readCPU(s.Proc.PID())
			if err != nil {
				return res, fmt.Errorf("%s: %w", s.Name, err)
			}
			l.CPU += cpu1 - cpu0
		}
		for _, s := range e.Servers {
			l := runs[s.Name]
			fmt.Fprintf(stdout, "bench/dns: latency at %d q/s %-22s %-9s p50 %v p99 %v (%d answers in %d runs, lost %d), CPU %v per answer\n",
				rate, qs.Name, s.Name, l.P50, l.P99, l.Answers, l.Runs, l.Lost, l.CPUPerAnswer())
			res.Latency[qs.Name][s.Name] = *l
		}
	}
	for _, s := range e.Servers {
		m, err := benchkit.ReadMemory(s.Proc.PID())
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.Name, err)
		}
		res.After[s.Name] = m
	}
	if o.StateTasks > 0 {
		fmt.Fprintf(stdout, "bench/dns: context: node-mode dcnet-dns reading a state file of %d tasks\n", o.StateTasks)
		var err error
		if res.State, err = e.stateFileFigure(ctx, o); err != nil {
			return res, fmt.Errorf("state-file figure: %w", err)
		}
	}
	return res, nil
}

// medianQPS is the median queries per second of runs.
func medianQPS(runs []perfResult) float64 {
	q := make([]float64, len(runs))
	for i, r := range runs {
		q[i] = r.QPS
	}
	return benchkit.Median(q)
}
