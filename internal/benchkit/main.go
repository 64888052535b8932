package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/dcnet/dcnet/internal/netsim"
)

// DefaultOut is the file whose section a full run replaces.
const DefaultOut = "docs/benchmarks.md"

// Bench names one benchmark main, bench/<Name>/main.go.
type Bench struct {
	// Name is the directory under bench/; messages start "bench/<Name>: ".
	Name string
	// Prefix keeps the run's namespaces apart: dcnet-<Prefix>-....
	Prefix string
	// Section is the heading of its section of docs/benchmarks.md,
	// without the "## ".
	Section string
}

// Flags are the flags every benchmark has.
type Flags struct {
	// Out is the markdown file whose section a run replaces; "" writes
	// nothing.
	Out string
	// Short asks for a smoke run: see Parse.
	Short bool
	// Command is the command line as the report shows it.
	Command string
}

// RunFunc measures, inside e, and returns the section of docs/benchmarks.md
// it made (starting with "## " and the bench's Section), or "" to write
// nothing. It prints its progress and results itself.
type RunFunc func(ctx context.Context, e *Env) (section string, err error)

// FlagSet returns an empty flag set for the bench's own flags.
func (b Bench) FlagSet() *flag.FlagSet {
	return flag.NewFlagSet("bench/"+b.Name, flag.ContinueOnError)
}

// Parse adds -out and -short to fs, which holds the bench's own flags, and
// parses args into it and f. With -short, each flag that short names and
// args do not give takes short's value, and -out defaults to "" (a smoke
// run writes no file unless told to). Positional arguments are an error.
func (b Bench) Parse(fs *flag.FlagSet, args []string, f *Flags, short map[string]string) error {
	var smoke []string
	for _, name := range slices.Sorted(maps.Keys(short)) {
		smoke = append(smoke, "-"+name+" "+short[name])
	}
	fs.StringVar(&f.Out, "out", DefaultOut, fmt.Sprintf("markdown file whose section %q is replaced (\"\" writes nothing)", b.Section))
	fs.BoolVar(&f.Short, "short", false, "smoke run: "+strings.Join(append(smoke, "-out ''"), " ")+" unless given")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.Short {
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		for name, v := range short {
			if !given[name] {
				if err := fs.Set(name, v); err != nil {
					return fmt.Errorf("-short: -%s %s: %w", name, v, err)
				}
			}
		}
		if !given["out"] {
			f.Out = ""
		}
	}
	f.Command = CommandLine("go run ./bench/"+b.Name, args)
	return nil
}

// CommandLine renders command and args for the report, quoting an
// argument the shell would lose or split (an empty -out value).
func CommandLine(command string, args []string) string {
	parts := []string{command}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Options are a bench's options: a struct that embeds Flags.
type Options interface{ common() Flags }

func (f Flags) common() Flags { return f }

// Main is a benchmark's main function: it parses os.Args with parse, exits
// 2 on a bad flag (0 for -h), else calls Run with run and SIGINT and
// SIGTERM cancelling the context, and exits 1 when that fails. It never
// returns.
func Main[O Options](b Bench, parse func(args []string) (O, error), run func(ctx context.Context, e *Env, o O, stdout io.Writer) (string, error)) {
	o, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/%s: %v\n", b.Name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = b.Run(ctx, o.common(), os.Stdout, func(ctx context.Context, e *Env) (string, error) { return run(ctx, e, o, os.Stdout) })
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/%s: %v\n", b.Name, err)
		os.Exit(1)
	}
}

// Run runs one benchmark: it checks that this process can build
// namespaces, snapshots the host's namespace, makes an Env (a temporary
// directory and the fabric dcnet-<Prefix>-*), calls run, closes the Env
// (also after a failure or a signal), fails if the host's namespace
// changed, and writes the section run returned into f.Out.
func (b Bench) Run(ctx context.Context, f Flags, stdout io.Writer, run RunFunc) (err error) {
	if err := netsim.CheckPrivileged(); err != nil {
		return fmt.Errorf("run as root: %w", err)
	}
	// First, so it runs after the cleanup below: nothing of the run may
	// show in the host's own namespace.
	defer netsim.HostUnchanged(ctx)(&err)
	e, err := NewEnv("dcnet-bench-"+b.Name+"-", b.Prefix)
	if err != nil {
		return err
	}
	section, err := func() (section string, err error) {
		defer func() {
			if cerr := e.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
			}
		}()
		return run(ctx, e)
	}()
	if err != nil || section == "" || f.Out == "" {
		return err
	}
	if heading, _, _ := strings.Cut(section, "\n"); heading != "## "+b.Section {
		return fmt.Errorf("the report starts %q, not with the heading %q: not written", heading, "## "+b.Section)
	}
	if err := Update(f.Out, section); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nbench/%s: wrote section %q of %s\n", b.Name, b.Section, f.Out)
	return nil
}
