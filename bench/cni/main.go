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
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Defaults of the full run and of -short.
const (
	defaultRounds  = 4
	defaultSeq     = 100
	defaultConc    = 200
	defaultWorkers = 8
	defaultOut     = "docs/benchmarks.md"
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
	Rounds  int    // measured rounds per plugin and workload (plus one warm-up)
	Seq     int    // containers of the sequential workload
	Conc    int    // containers of the concurrent workload
	Workers int    // parallel invocations of the concurrent workload
	Out     string // markdown file to update; "" writes nothing
	Bin     string // directory of the built binaries
	Short   bool   // smoke run
	Command string // the command line, for the report
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/cni: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = run(ctx, opts, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/cni: %v\n", err)
		os.Exit(1)
	}
}

// parseFlags reads the flags; -short changes the defaults of the flags it
// is not given explicitly.
func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench/cni", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.Rounds, "rounds", defaultRounds, "measured rounds per plugin and workload (one warm-up round more is discarded)")
	fs.IntVar(&o.Seq, "seq", defaultSeq, "containers of the sequential workload (one ADD at a time, then one DEL at a time)")
	fs.IntVar(&o.Conc, "conc", defaultConc, "containers of the concurrent workload")
	fs.IntVar(&o.Workers, "workers", defaultWorkers, "parallel invocations of the concurrent workload")
	fs.StringVar(&o.Out, "out", defaultOut, "markdown file whose CNI section is replaced with the results (\"\" writes nothing)")
	fs.StringVar(&o.Bin, "bin", defaultBin, "directory of overlayd, dcnet and ref/{bridge,host-local} (make build)")
	fs.BoolVar(&o.Short, "short", false, fmt.Sprintf("smoke run: %d round, %d containers per workload, writes no file", shortRounds, shortSeq))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			o.Rounds = shortRounds
		}
		if !set["seq"] {
			o.Seq = shortSeq
		}
		if !set["conc"] {
			o.Conc = shortConc
		}
		if !set["out"] {
			o.Out = ""
		}
	}
	o.Command = strings.TrimSpace("go run ./bench/cni " + strings.Join(args, " "))
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

// run sets up the node, measures, reports and removes everything it made.
func run(ctx context.Context, o options, stdout *os.File) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the benchmark creates network namespaces (nothing changes in the host's own)")
	}
	bins, err := findBinaries(o.Bin)
	if err != nil {
		return err
	}
	// First, so it runs after the cleanup below: nothing of the run may
	// show in the host's own namespace.
	defer netsim.HostUnchanged(ctx)(&err)
	fmt.Fprintf(stdout, "bench/cni: setting up node %s with overlayd and %d container namespaces (netns prefix %s)\n",
		nodeName, max(o.Seq, o.Conc), netsimPrefix)
	e, err := newEnv(ctx, bins, max(o.Seq, o.Conc))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench/cni: last lines of the overlayd log:\n%s\n", e.overlaydLogTail())
		}
		if cerr := e.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	b, err := newBench(e, o, stdout)
	if err != nil {
		return err
	}
	res, err := b.measure(ctx)
	if err != nil {
		return err
	}
	rep := newReport(o, res)
	fmt.Fprint(stdout, "\n"+rep.Text())
	if o.Out == "" {
		return nil
	}
	if err := benchkit.Update(o.Out, rep.Markdown()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench/cni: wrote section %q of %s\n", sectionTitle, o.Out)
	return nil
}
