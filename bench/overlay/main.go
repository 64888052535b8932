// Command overlay measures dcnet's multi-node overlay on one machine
// (DESIGN.md, "Benchmarks"), each figure against a target in the same run:
//
//  1. throughput: iperf3 TCP container to container across two nodes over
//     VxLAN, against the same two containers with their node subnets routed
//     over the plain underlay (>= 0.90), each node on its own CPU; the
//     same pair with one CPU doing both nodes' kernel work, and a
//     sensitivity check (tunnel segmentation in software), as diagnostics;
//  2. convergence: nodes joining and leaving a running cluster, from the
//     store event until every other node's kernel and API show it
//     (p99 <= 1 s);
//  3. control-plane scale: one real overlayd with 1,000 simulated peers in
//     etcd: change-to-reconciled latency and planning time (p99 <= 10 ms),
//     resident memory (<= 50 MiB).
//
// It prints the results with PASS/MISS per target and writes its section
// of docs/benchmarks.md. Run it as root from the repository root after
// `make build` (`make bench` does both):
//
//	go run ./bench/overlay          # full run (about 3 minutes); updates docs/benchmarks.md
//	go run ./bench/overlay -short   # smoke run (under a minute); writes nothing
//
// Everything happens inside network namespaces named dcnet-bovl-...; the
// host's own namespace is never touched (it is snapshotted before and
// compared after), and every namespace, process and temporary file is
// removed at the end, also on failure and on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// program is this benchmark's main: its name, namespaces and section.
var program = benchkit.Bench{Name: "overlay", Prefix: netsimPrefix, Section: sectionTitle}

// Phases, selectable with -phases.
const (
	phaseThroughput = "throughput"
	phaseConverge   = "converge"
	phaseScale      = "scale"
)

var allPhases = []string{phaseThroughput, phaseConverge, phaseScale}

// options are the command-line flags.
type options struct {
	benchkit.Flags
	Rounds  int // throughput rounds
	Seconds int // seconds per iperf3 run
	Base    int // nodes running before the joins
	Joins   int // nodes joining (then leaving) one at a time
	Sims    int // simulated nodes of the scale phase
	Changes int // record changes timed in the scale phase
	Phases  []string
	Bin     string // directory of the built binaries
}

// Bounds of the flags.
var flagRanges = []struct {
	name   string
	lo, hi int
}{
	{"rounds", 1, 20}, {"seconds", 1, 60}, {"base", 1, 20}, {"joins", 1, 100}, {"sims", 1, 4000}, {"changes", 1, 1000},
}

func main() {
	benchkit.Main(program, parseFlags, run)
}

// parseFlags reads the flags; -short changes the defaults of the flags it
// is not given explicitly.
func parseFlags(args []string) (options, error) {
	fs := program.FlagSet()
	var o options
	var phases string
	fs.IntVar(&o.Rounds, "rounds", 3, "throughput: measured rounds (each runs every path once, alternating order)")
	fs.IntVar(&o.Seconds, "seconds", 5, "throughput: seconds per iperf3 run")
	fs.IntVar(&o.Base, "base", 3, "convergence: nodes running before the joins")
	fs.IntVar(&o.Joins, "joins", 20, "convergence: nodes that join one at a time, then leave one at a time")
	fs.IntVar(&o.Sims, "sims", 1000, "scale: simulated nodes in etcd")
	fs.IntVar(&o.Changes, "changes", 100, "scale: timed node record changes")
	fs.StringVar(&phases, "phases", strings.Join(allPhases, ","), "comma-separated phases to run (only a run of all phases writes -out)")
	fs.StringVar(&o.Bin, "bin", "bin", "directory of overlayd, dcnet, dcnetctl and cnitool (make build)")
	short := map[string]string{"rounds": "1", "seconds": "2", "joins": "5", "changes": "20"}
	if err := program.Parse(fs, args, &o.Flags, short); err != nil {
		return o, err
	}
	for _, p := range strings.Split(phases, ",") {
		if !slices.Contains(allPhases, p) {
			return o, fmt.Errorf("-phases: unknown phase %q, want some of %s", p, strings.Join(allPhases, ","))
		}
		o.Phases = append(o.Phases, p)
	}
	vals := map[string]int{"rounds": o.Rounds, "seconds": o.Seconds, "base": o.Base, "joins": o.Joins, "sims": o.Sims, "changes": o.Changes}
	for _, f := range flagRanges {
		if v := vals[f.name]; v < f.lo || v > f.hi {
			return o, fmt.Errorf("-%s %d out of range [%d, %d]", f.name, v, f.lo, f.hi)
		}
	}
	return o, nil
}

// run runs the phases in be and returns the report, "" unless every phase
// ran.
func run(ctx context.Context, be *benchkit.Env, o options, stdout io.Writer) (string, error) {
	e := &env{Env: be}
	var err error
	if e.Bins, err = copyBinaries(o.Bin, filepath.Join(e.Tmp, "bin")); err != nil {
		return "", err
	}
	fmt.Fprintf(stdout, "bench/overlay: phases %s in namespaces dcnet-%s-* (%s)\n", strings.Join(o.Phases, ", "), netsimPrefix, e.Tmp)
	var res results
	for _, p := range o.Phases {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		fmt.Fprintf(stdout, "bench/overlay: phase %s\n", p)
		switch p {
		case phaseThroughput:
			t, err := runThroughput(ctx, e, o, stdout)
			if err != nil {
				return "", fmt.Errorf("throughput: %w", err)
			}
			res.Throughput = &t
		case phaseConverge:
			c, err := runConvergence(ctx, e, o, stdout)
			if err != nil {
				return "", fmt.Errorf("convergence: %w", err)
			}
			res.Converge = &c
		case phaseScale:
			s, err := runScale(ctx, e, o, stdout)
			if err != nil {
				return "", fmt.Errorf("scale: %w", err)
			}
			res.Scale = &s
		}
	}
	md := newReport(o, res, be).Markdown()
	fmt.Fprint(stdout, "\n"+md)
	if len(o.Phases) != len(allPhases) {
		return "", nil
	}
	return md, nil
}
