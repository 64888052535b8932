// Command l4lb measures dcnet-l4lb's data plane on one machine (DESIGN.md,
// "Benchmarks"), each figure against an anchor in the same run:
//
//  1. traffic: connection-per-request and keep-alive request rates from a
//     client container through the VIP against the same backends dialled
//     directly, interleaved, with 0, 1,000 and 10,000 other VIPs
//     installed, at one client and at saturation; and the same through a
//     kube-proxy-style iptables layout of 10,000 services on a twin node;
//  2. control plane: a full install of 10,000 VIPs of 3 backends, one VIP
//     change with 10,000 installed (Syncer.Apply), and the resident memory
//     of the real dcnet-l4lb fed those VIPs as 30,000 endpoint records
//     through etcd (and of a process holding only the planned state).
//
// It prints the results with PASS/MISS per target and writes its section
// of docs/benchmarks.md. Run it as root from the repository root:
//
//	go run ./bench/l4lb          # full run (about 3 minutes); updates docs/benchmarks.md
//	go run ./bench/l4lb -short   # smoke run (about 30 s); writes nothing
//	go run ./bench/l4lb -only-daemon  # only the dcnet-l4lb RSS phase (about 30 s); writes nothing
//
// Everything happens inside network namespaces named dcnet-bl4lb-...; the
// host's own namespace is never touched, and every namespace, process and
// temporary file is removed at the end, also on failure and on Ctrl-C; the
// host's namespace is snapshotted before and compared after.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// program is this benchmark's main: its name, namespaces and section.
var program = benchkit.Bench{Name: "l4lb", Prefix: netsimPrefix, Section: sectionTitle}

// options are the command-line flags.
type options struct {
	benchkit.Flags
	Rounds       int // measured traffic rounds (plus one warm-up)
	SampleMillis int // length of one traffic sample
	Saturation   int // concurrent clients of the saturation samples
	InstallReps  int
	Changes      int
	Reconciles   int
	Daemon       bool // run the real dcnet-l4lb through etcd for its RSS
	OnlyDaemon   bool // run only the dcnet-l4lb phase, print it, write nothing
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childFlag {
		os.Exit(childMain(os.Args[2:]))
	}
	benchkit.Main(program, parseFlags, run)
}

// parseFlags reads the flags; -short changes the defaults of the flags it
// is not given explicitly.
func parseFlags(args []string) (options, error) {
	fs := program.FlagSet()
	var o options
	fs.IntVar(&o.Rounds, "rounds", 12, "measured traffic rounds (plus one warm-up round)")
	fs.IntVar(&o.SampleMillis, "sample-ms", 600, "milliseconds per traffic sample")
	fs.IntVar(&o.Saturation, "clients", 8, "concurrent clients of the saturation samples")
	fs.IntVar(&o.InstallReps, "installs", 3, "full installs of 10,000 VIPs timed")
	fs.IntVar(&o.Changes, "changes", 200, "single-VIP changes timed with Syncer.Apply")
	fs.IntVar(&o.Reconciles, "reconciles", 6, "single-VIP changes timed with Syncer.Reconcile (read-back), for comparison")
	fs.BoolVar(&o.Daemon, "daemon", true, "measure the resident memory of the real dcnet-l4lb fed 10,000 VIPs through etcd")
	fs.BoolVar(&o.OnlyDaemon, "only-daemon", false, "run only the dcnet-l4lb memory phase (etcd + the real binary); prints it, writes nothing")
	fs.StringVar(&daemonLogCopy, "daemon-log", "", "copy dcnet-l4lb's log (stderr, e.g. with GODEBUG=gctrace=1 in the environment) to this file")
	short := map[string]string{"rounds": "2", "sample-ms": "300", "installs": "1", "changes": "20", "reconciles": "2"}
	if err := program.Parse(fs, args, &o.Flags, short); err != nil {
		return o, err
	}
	if o.Rounds < 1 || o.Rounds > 50 || o.SampleMillis < 100 || o.SampleMillis > 10000 || o.Saturation < 2 || o.Saturation > 64 ||
		o.InstallReps < 1 || o.Changes < 1 || o.Changes > 5000 || o.Reconciles < 0 || o.Reconciles > 100 {
		return o, fmt.Errorf("a flag is out of range (rounds 1-50, sample-ms 100-10000, clients 2-64, installs >= 1, changes 1-5000, reconciles 0-100)")
	}
	return o, nil
}

// run measures the phases in be and returns the report ("" for
// -only-daemon, which only prints).
func run(ctx context.Context, be *benchkit.Env, o options, stdout io.Writer) (string, error) {
	start := time.Now()
	progress := func(s string) { fmt.Fprintf(os.Stderr, "bench/l4lb: %5.1fs %s\n", time.Since(start).Seconds(), s) }
	if o.OnlyDaemon {
		return "", runOnlyDaemon(ctx, be, progress)
	}
	e, err := setup(ctx, be)
	if err != nil {
		return "", err
	}
	progress("namespaces, backends and load generators ready")

	var res results
	if res.KubeProxyTook, res.KubeProxyRules, err = e.installKubeProxy(ctx, otherVIPs[len(otherVIPs)-1]); err != nil {
		return "", err
	}
	res.IPTables = e.iptables
	progress(fmt.Sprintf("kube-proxy layout: %d iptables rules in %v", res.KubeProxyRules, res.KubeProxyTook.Round(time.Millisecond)))
	if res.Install, err = e.runInstall(ctx, o.InstallReps); err != nil {
		return "", err
	}
	progress("full installs timed")
	if res.Change, err = e.runChanges(ctx, o.Changes, o.Reconciles); err != nil {
		return "", err
	}
	progress("single-VIP changes timed")
	if res.Traffic, err = e.runTraffic(ctx, o, progress); err != nil {
		return "", err
	}
	if res.Memory, err = e.runMemory(ctx); err != nil {
		return "", err
	}
	progress("memory of the state measured")
	if o.Daemon {
		res.Daemon, res.DaemonErr = e.runDaemon(ctx, otherVIPs[len(otherVIPs)-1])
		if res.DaemonErr != nil {
			progress(fmt.Sprintf("dcnet-l4lb phase failed, reporting the state measurement instead: %v", res.DaemonErr))
		} else {
			progress("dcnet-l4lb memory measured")
		}
	}
	md := newReport(o, res, be).Markdown()
	fmt.Fprint(stdout, md)
	return md, nil
}
