// Command cnm measures `docker run --rm` of a FROM scratch container on the
// dcnet network (dcnet-cnm driver + IPAM, overlayd) against the same on a
// plain Docker bridge network, with the same private dockerd in the same
// run, interleaved (DESIGN.md, "Benchmarks"). It prints medians, p99s and
// the dcnet/bridge ratio (target <= 1.10) and writes them into
// docs/benchmarks.md. Run it as root from the repository root:
//
//	go run ./bench/cnm            # full run; updates docs/benchmarks.md
//	go run ./bench/cnm -short     # smoke run; writes nothing
//
// Everything runs in network namespaces named dcnet-bcnm-... and, for
// dockerd, a private mount namespace (cnm/cnmtest); the host namespace is
// never touched and everything is removed at the end.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cnm/cnmtest"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

const (
	netsimPrefix  = "bcnm"
	image         = "dcnet-bench-probe"
	bridgeNet     = "plain"
	bridgeSubnet  = "172.31.250.0/24"
	targetRatio   = 1.10
	defaultRounds = 40
	shortRounds   = 4
	runTimeout    = 60 * time.Second
	readyTimeout  = 30 * time.Second
)

// program is this benchmark's main: its name, namespaces and section.
var program = benchkit.Bench{Name: "cnm", Prefix: netsimPrefix, Section: sectionTitle}

// options are the command-line flags.
type options struct {
	benchkit.Flags
	Rounds int // measured runs per network (plus one warm-up each)
}

func main() {
	benchkit.Main(program, parseFlags, run)
}

// parseFlags reads the flags; -short changes the defaults of the flags it
// is not given explicitly.
func parseFlags(args []string) (options, error) {
	fs := program.FlagSet()
	var o options
	fs.IntVar(&o.Rounds, "rounds", defaultRounds, "measured runs per network (plus one warm-up each)")
	if err := program.Parse(fs, args, &o.Flags, map[string]string{"rounds": strconv.Itoa(shortRounds)}); err != nil {
		return o, err
	}
	if o.Rounds < 1 {
		return o, fmt.Errorf("-rounds %d out of range [1, ...)", o.Rounds)
	}
	return o, nil
}

// env is one node with overlayd, dcnet-cnm and a private dockerd, in the
// run's Env (which stops and removes them).
type env struct {
	*benchkit.Env
	node     *netsim.Node
	overlayd *clustersim.Overlayd
	plugin   *cnmtest.Proc
	dockerd  *cnmtest.Dockerd
}

func setup(ctx context.Context, be *benchkit.Env) (*env, error) {
	e := &env{Env: be}
	build := exec.CommandContext(ctx, "go", "build", "-o", e.Tmp+"/", "./overlayd/cmd/overlayd", "./cnm/cmd/dcnet-cnm")
	if b, err := build.CombinedOutput(); err != nil {
		return e, fmt.Errorf("build: %v\n%s", err, b)
	}
	var err error
	if e.node, err = e.Fabric.AddNode("node1"); err != nil {
		return e, err
	}
	e.overlayd = clustersim.NewOverlayd(e, e.node, filepath.Join(e.Tmp, "overlayd"), e.Tmp)
	nets, err := e.overlayd.Start(ctx, readyTimeout)
	if err != nil {
		return e, err
	}
	if e.dockerd, err = cnmtest.NewDockerd(netsim.NSPath(e.node.NSName)); err != nil {
		return e, err
	}
	// dockerd goes first (its containers first, so that its own shutdown
	// is quick), then the plugin, before overlayd and the namespaces.
	e.OnClose(e.closeDocker)
	pluginSock := filepath.Join(e.dockerd.PluginDir, cnmtest.PluginName+".sock")
	e.plugin, err = cnmtest.Start(netsim.NSPath(e.node.NSName), filepath.Join(e.Tmp, "cnm.log"), filepath.Join(e.Tmp, "dcnet-cnm"),
		"--socket", pluginSock, "--overlayd-socket", e.overlayd.Socket(), "--state-dir", filepath.Join(e.Tmp, "cnm-state"))
	if err != nil {
		return e, err
	}
	if err := netsim.WaitFor(ctx, 10*time.Second, 20*time.Millisecond, func() error { _, err := os.Stat(pluginSock); return err }); err != nil {
		return e, fmt.Errorf("dcnet-cnm: %w", err)
	}
	if err := e.dockerd.Start(); err != nil {
		return e, err
	}
	if err := e.dockerd.BuildProbeImage(ctx, ".", image); err != nil {
		return e, err
	}
	if _, err := e.docker(ctx, "network", "create", "-d", "dcnet", "--ipam-driver", "dcnet", "--subnet", nets[0].NodeSubnet, "dcos"); err != nil {
		return e, err
	}
	_, err = e.docker(ctx, "network", "create", "-d", "bridge", "--subnet", bridgeSubnet, bridgeNet)
	return e, err
}

func (e *env) docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	return e.dockerd.Docker(ctx, args...)
}

// closeDocker removes every container, stops dockerd, then dcnet-cnm.
func (e *env) closeDocker() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	if ids, err := e.dockerd.Docker(ctx, "ps", "-aq"); err == nil && ids != "" {
		e.dockerd.Docker(ctx, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	cancel()
	errs = append(errs, e.dockerd.Close())
	if e.plugin != nil {
		errs = append(errs, e.plugin.Stop(10*time.Second))
	}
	return errors.Join(errs...)
}

// run measures both networks interleaved and returns the report.
func run(ctx context.Context, be *benchkit.Env, o options, stdout io.Writer) (string, error) {
	e, err := setup(ctx, be)
	if err != nil {
		return "", err
	}
	rounds := o.Rounds
	times := map[string][]time.Duration{}
	nets := []string{"dcos", bridgeNet}
	for i := -1; i < rounds; i++ { // round -1 warms up
		order := nets
		if i%2 != 0 {
			order = []string{nets[1], nets[0]}
		}
		for _, n := range order {
			t0 := time.Now()
			if _, err := e.docker(ctx, "run", "--rm", "--network", n, image, "true"); err != nil {
				return "", err
			}
			if i >= 0 {
				times[n] = append(times[n], time.Since(t0))
			}
		}
	}
	// Nothing leaked: every --rm container gave its address back.
	atts, err := e.overlayd.API.Attachments(ctx)
	if err != nil {
		return "", err
	}
	for _, a := range atts {
		if a.Runtime == api.RuntimeDocker {
			return "", fmt.Errorf("address leaked after the runs: %s %v", a.AttachmentID, a.IPs)
		}
	}
	section := report(times, rounds, be.Header(o.Command))
	fmt.Fprint(stdout, section)
	return section, nil
}

type stats struct{ median, p99, mean time.Duration }

// summarize computes nearest-rank percentiles (benchkit.NearestRank) and
// the mean; an empty ds gives zeros.
func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return stats{median: benchkit.Median(ds), p99: benchkit.NearestRank(ds, 99), mean: sum / time.Duration(len(ds))}
}

func report(times map[string][]time.Duration, rounds int, header string) string {
	d, b := summarize(times["dcos"]), summarize(times[bridgeNet])
	ratio := float64(d.median) / float64(b.median)
	verdict := benchkit.PassMiss(ratio <= targetRatio)
	ms := func(x time.Duration) string { return fmt.Sprintf("%.1f ms", float64(x.Microseconds())/1000) }
	var sb strings.Builder
	fmt.Fprintf(&sb, "## %s\n\n", sectionTitle)
	sb.WriteString(header)
	fmt.Fprintf(&sb, "`docker run --rm --network NET <FROM scratch image> true`, %d runs per network after one warm-up each, "+
		"interleaved (alternating order), one private dockerd (%s) in a node netns with overlayd and dcnet-cnm. "+
		"NET is `dcos` (dcnet driver + dcnet IPAM, overlayd's node subnet) or `%s` (Docker's bridge driver, default IPAM). "+
		"The time is the whole docker CLI round trip: container create, network setup, start, exit, teardown.\n\n", rounds, dockerVersion(), bridgeNet)
	sb.WriteString("| network | median | p99 | mean |\n|---|---|---|---|\n")
	fmt.Fprintf(&sb, "| dcos (dcnet) | %s | %s | %s |\n", ms(d.median), ms(d.p99), ms(d.mean))
	fmt.Fprintf(&sb, "| %s (bridge) | %s | %s | %s |\n\n", bridgeNet, ms(b.median), ms(b.p99), ms(b.mean))
	fmt.Fprintf(&sb, "Ratio dcnet/bridge of the medians: **%.3f** (target <= %.2f): %s. p99 ratio %.3f.\n",
		ratio, targetRatio, verdict, float64(d.p99)/float64(b.p99))
	return sb.String()
}

func dockerVersion() string {
	out, err := exec.Command("dockerd", "--version").Output()
	if err != nil {
		return "dockerd"
	}
	return strings.TrimSpace(string(out))
}
