// Command cni measures CNI ADD and DEL latency of the dcnet plugin against the
// reference bridge+host-local plugins, both driven the same way in the same
// run on one simulated node (DESIGN.md, "Benchmarks"). It prints a table of
// medians, p99s, means and dcnet/reference ratios with PASS/MISS per target
// and writes it into docs/benchmarks.md. Run it as root from the repository
// root (`make bench` does):
//
//	go run ./bench/cni           # full run; updates docs/benchmarks.md
//	go run ./bench/cni -short    # smoke run; writes nothing
//
// Everything happens inside network namespaces named dcnet-bcni-...; the
// host's own namespace is never touched, and every namespace, process and
// temporary file is removed at the end, also on failure and on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// program is this benchmark's main: its name, namespaces and section.
var program = benchkit.Bench{Name: "cni", Prefix: netsimPrefix, Section: sectionTitle}

// Defaults of the full run and of -short.
const (
	defaultRounds  = 4
	defaultSeq     = 100
	defaultConc    = 200
	defaultWorkers = 8
	defaultBin     = "bin"

	shortRounds = 1
	shortSeq    = 20
	shortConc   = 20

	// maxContainers keeps every address inside one /24 (host-local's
	// 9.200.0.0/24 and overlayd's node subnet both hold 253).
	maxContainers = 250
	maxRounds     = 50
	maxWorkers    = 64
)

// options are the command-line flags.
type options struct {
	benchkit.Flags
	Rounds  int    // measured rounds per plugin and workload (plus one warm-up)
	Seq     int    // containers of the sequential workload
	Conc    int    // containers of the concurrent workload
	Workers int    // parallel invocations of the concurrent workload
	Bin     string // directory of the built binaries
}

func main() {
	benchkit.Main(program, parseFlags, run)
}

// parseFlags reads the flags; -short changes the defaults of the flags it
// is not given explicitly.
func parseFlags(args []string) (options, error) {
	fs := program.FlagSet()
	var o options
	fs.IntVar(&o.Rounds, "rounds", defaultRounds, "measured rounds per plugin and workload (one warm-up round more is discarded)")
	fs.IntVar(&o.Seq, "seq", defaultSeq, "containers of the sequential workload (one ADD at a time, then one DEL at a time)")
	fs.IntVar(&o.Conc, "conc", defaultConc, "containers of the concurrent workload")
	fs.IntVar(&o.Workers, "workers", defaultWorkers, "parallel invocations of the concurrent workload")
	fs.StringVar(&o.Bin, "bin", defaultBin, "directory of overlayd, dcnet and ref/{bridge,host-local} (make build)")
	short := map[string]string{"rounds": strconv.Itoa(shortRounds), "seq": strconv.Itoa(shortSeq), "conc": strconv.Itoa(shortConc)}
	if err := program.Parse(fs, args, &o.Flags, short); err != nil {
		return o, err
	}
	return o, o.validate()
}

// validate names the first flag out of range.
func (o options) validate() error {
	for _, f := range []struct {
		name      string
		v, lo, hi int
	}{
		{"rounds", o.Rounds, 1, maxRounds},
		{"seq", o.Seq, 1, maxContainers},
		{"conc", o.Conc, 1, maxContainers},
		{"workers", o.Workers, 1, maxWorkers},
	} {
		if f.v < f.lo || f.v > f.hi {
			return fmt.Errorf("-%s %d out of range [%d, %d]", f.name, f.v, f.lo, f.hi)
		}
	}
	return nil
}

// run sets up the node in e, measures and returns the report.
func run(ctx context.Context, be *benchkit.Env, o options, stdout io.Writer) (section string, err error) {
	fmt.Fprintf(stdout, "bench/cni: setting up node %s with overlayd and %d container namespaces (netns prefix %s)\n",
		nodeName, max(o.Seq, o.Conc), netsimPrefix)
	e, err := newEnv(ctx, be, o.Bin, max(o.Seq, o.Conc))
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench/cni: last lines of the overlayd log:\n%s\n", e.overlaydLogTail())
		}
	}()
	b, err := newBench(e, o, stdout)
	if err != nil {
		return "", err
	}
	res, err := b.measure(ctx)
	if err != nil {
		return "", err
	}
	rep := newReport(o, res, be)
	fmt.Fprint(stdout, "\n"+rep.Text())
	return rep.Markdown(), nil
}
