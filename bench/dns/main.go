// Command dns measures dcnet-dns against anchors on the same machine in
// the same run (DESIGN.md, "Benchmarks"): CoreDNS for both query sets,
// Knot DNS (authoritative, the same cluster names from a zone file) for
// the cluster names and Unbound (a caching resolver) for the cached
// forwarded names.
//
// The target metric is each server's CPU time per answer: its user +
// system time (/proc/<pid>/stat) over the answers of runs at one fixed
// rate per query set that every server of the set sustains while dnsperf
// stays below 80 % of its own CPU, so the load generator is never the
// limit (checked on every run; the rate is halved and the set measured
// again when a run misses it). Targets: dcnet-dns's CPU per answer at most
// half CoreDNS's, for both sets; Knot DNS's and Unbound's are the stretch
// goals, printed as ratios. At that rate: p50 and p99 (`dnsperf -v`).
//
//  1. cluster names: task names <task>.marathon.autoip.dcos.thisdcos.directory,
//     which a node's dcnet-dns serves from etcd as a real node does (a
//     Mesos-DNS master, dcnet-dns --mode mesos-dns, polls the generated
//     Mesos state and publishes the task names, next to named VIP records
//     written as dcnet-l4lb writes them; CoreDNS and Knot DNS serve the
//     same A records from zone files);
//  2. cached forwarded names: every server forwards to the same upstream
//     unbound and answers from its cache after the warm-up;
//  3. queries per second at saturation, as context, flagged when dnsperf
//     was busier than the server (then it measured dnsperf);
//  4. the node's resident memory (VmRSS) with 100,000 cluster records
//     (30,000 tasks: 90,000 task names; 10,000 named VIPs), after loading
//     and after the queries: target <= 150 MB. As context, the VmRSS of a
//     node-mode dcnet-dns reading a 100,000-task state file itself.
//
// It prints every ratio and writes its section of docs/benchmarks.md. Run
// it as root from the repository root (`make bench` also installs CoreDNS
// into bin/ first; without it the bench installs it there itself):
//
//	go run ./bench/dns          # full run (about 5 minutes); updates docs/benchmarks.md
//	go run ./bench/dns -short   # smoke run; writes nothing
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
	"github.com/dcnet/dcnet/internal/netsim"
)

// program is this benchmark's main: its name, namespaces and section.
var program = benchkit.Bench{Name: "dns", Prefix: netsimPrefix, Section: sectionTitle}

// Targets (the acceptance criteria).
const (
	// targetCPURatio: dcnet-dns's CPU per answer / CoreDNS's, at most;
	// the stretch goal is 1.0 of the set's other anchor (Knot DNS, Unbound).
	targetCPURatio = 0.5
	stretchRatio   = 1.0
	targetP99Ratio = 1.0         // dcnet-dns p99 / CoreDNS p99, at most
	targetRSS      = 150_000_000 // bytes of VmRSS with 100,000 cluster records, at most
	warmUp         = 1 * time.Second
	// rateLoad is the first fixed rate tried, as a fraction of the slowest
	// server's median throughput, so none is saturated.
	rateLoad = 0.5
	minRate  = 100
	// clientLimit is dnsperf's highest CPU share (% of its CPU) at the
	// fixed rate; sustainedMin the least share of the rate every run must
	// answer. A set missing either is measured again at half the rate, at
	// most rateTries times.
	clientLimit  = 80.0
	sustainedMin = 0.95
	rateTries    = 3
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

// querySet is one query file and the servers asked it: dcnet-dns,
// CoreDNS and the set's own anchor.
type querySet struct {
	Name    string
	File    string
	Servers []*server
	// Anchor is the stretch goal's server (Knot DNS, Unbound).
	Anchor string
}

// results are every measurement of the run.
type results struct {
	Sets       []querySet
	Throughput map[string]map[string][]perfResult // set -> server -> rounds
	Latency    map[string]map[string]latencyRun   // set -> server, at the set's rate
	Rate       map[string]int                     // set -> the fixed rate
	Tries      map[string]int                     // set -> rates tried
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
	for _, s := range e.Servers {
		fmt.Fprintf(stdout, "bench/dns: %s (%s) ready in %v\n", s.Name, s.Version, s.Ready.Round(time.Millisecond))
	}
	fmt.Fprintf(stdout, "bench/dns: namespaces dcnet-%s-*, %s\n", netsimPrefix, e.Tmp)
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
// throughput rounds and the fixed-rate runs, and reads memory again.
func measure(ctx context.Context, e *env, o options, stdout io.Writer) (results, error) {
	var cluster, forward []*server
	for _, s := range e.Servers {
		if s.Cluster {
			cluster = append(cluster, s)
		}
		if s.Forward {
			forward = append(forward, s)
		}
	}
	res := results{
		Sets: []querySet{{"cluster name", e.Data.ClusterQueries, cluster, srvKnot},
			{"cached forwarded name", e.Data.ForwardQueries, forward, srvUnbound}},
		Throughput: map[string]map[string][]perfResult{},
		Latency:    map[string]map[string]latencyRun{},
		Rate:       map[string]int{},
		Tries:      map[string]int{},
		Loaded:     map[string]benchkit.Memory{},
		After:      map[string]benchkit.Memory{},
	}
	client := e.Client.Namespace
	if err := readMemory(e.Servers, res.Loaded); err != nil {
		return res, err
	}
	for _, qs := range res.Sets {
		res.Throughput[qs.Name] = map[string][]perfResult{}
		for _, s := range qs.Servers {
			if _, err := dnsperf(ctx, client, s.Addr, qs.File, warmUp); err != nil {
				return res, fmt.Errorf("warm-up %s, %s: %w", s.Name, qs.Name, err)
			}
		}
	}
	d := time.Duration(o.Seconds) * time.Second
	for r := range o.Rounds {
		for i, qs := range res.Sets {
			order := slices.Clone(qs.Servers)
			if (r+i)%2 == 1 {
				slices.Reverse(order)
			}
			for _, s := range order {
				p, err := throughput(ctx, client, s, qs.File, d)
				if err != nil {
					return res, fmt.Errorf("%s, %s: %w", s.Name, qs.Name, err)
				}
				fmt.Fprintf(stdout, "bench/dns: round %d %-22s %-9s %9.0f q/s, avg latency %v, lost %d, not NOERROR %d, CPU server %.0f%% dnsperf %.0f%%\n",
					r+1, qs.Name, s.Name, p.QPS, p.AvgLatency, p.Lost, p.NonNoerror, p.ServerShare(), p.ClientShare())
				res.Throughput[qs.Name][s.Name] = append(res.Throughput[qs.Name][s.Name], p)
			}
		}
	}
	ld := time.Duration(o.LatSeconds) * time.Second
	for i, qs := range res.Sets {
		slowest := -1.0
		for _, s := range qs.Servers {
			if q := medianQPS(res.Throughput[qs.Name][s.Name]); slowest < 0 || q < slowest {
				slowest = q
			}
		}
		rate := max(minRate, int(slowest*rateLoad)/100*100)
		for try := 1; ; try++ {
			runs, err := fixedRate(ctx, client, qs, rate, ld, i%2 == 1)
			if err != nil {
				return res, err
			}
			ok := true
			for _, s := range qs.Servers {
				l := runs[s.Name]
				fmt.Fprintf(stdout, "bench/dns: at %d q/s %-22s %-9s p50 %v p99 %v (%d answers, %d runs, lost %d, least share of the rate %.0f%%), CPU %v per answer, dnsperf CPU at most %.0f%%\n",
					rate, qs.Name, s.Name, l.P50, l.P99, l.Answers, l.Runs, l.Lost, 100*l.MinSustained, l.CPUPerAnswer(), l.MaxClientShare)
				ok = ok && l.MaxClientShare < clientLimit && l.MinSustained >= sustainedMin
			}
			res.Latency[qs.Name], res.Rate[qs.Name], res.Tries[qs.Name] = runs, rate, try
			if ok || try == rateTries || rate/2 < minRate {
				break
			}
			rate = rate / 2 / 100 * 100
			fmt.Fprintf(stdout, "bench/dns: %s: a server did not keep up or dnsperf was at %.0f%% CPU or more: again at %d q/s\n", qs.Name, clientLimit, rate)
		}
	}
	if err := readMemory(e.Servers, res.After); err != nil {
		return res, err
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

// fixedRate runs every server of qs at rate, twice each in mirrored order
// (A B C C B A: a drift of the machine's load hits all alike; reversed
// when flip), and returns the pooled runs by server.
func fixedRate(ctx context.Context, client netsim.Namespace, qs querySet, rate int, d time.Duration, flip bool) (map[string]latencyRun, error) {
	order := slices.Clone(qs.Servers)
	if flip {
		slices.Reverse(order)
	}
	back := slices.Clone(order)
	slices.Reverse(back)
	runs := map[string]*latencyRun{}
	for _, s := range append(order, back...) {
		l := runs[s.Name]
		if l == nil {
			l = &latencyRun{Rate: rate}
			runs[s.Name] = l
		}
		if err := l.add(ctx, client, s, qs.File, d); err != nil {
			return nil, fmt.Errorf("at %d q/s %s, %s: %w", rate, s.Name, qs.Name, err)
		}
	}
	out := map[string]latencyRun{}
	for n, l := range runs {
		out[n] = *l
	}
	return out, nil
}

// readMemory reads every server's memory into into.
func readMemory(servers []*server, into map[string]benchkit.Memory) error {
	for _, s := range servers {
		m, err := benchkit.ReadMemory(s.Proc.PID())
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		into[s.Name] = m
	}
	return nil
}

// medianQPS is the median queries per second of runs.
func medianQPS(runs []perfResult) float64 {
	q := make([]float64, len(runs))
	for i, r := range runs {
		q[i] = r.QPS
	}
	return benchkit.Median(q)
}
