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
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dcnet/dcnet/cnm/cnmtest"
	"github.com/dcnet/dcnet/internal/benchkit"
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
)

func main() {
	rounds := flag.Int("rounds", defaultRounds, "measured runs per network (plus one warm-up each)")
	out := flag.String("out", "docs/benchmarks.md", "markdown file to update (\"\" writes nothing)")
	short := flag.Bool("short", false, "smoke run: few rounds, writes nothing")
	flag.Parse()
	if *short {
		*rounds, *out = shortRounds, ""
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/cnm: needs root (network and mount namespaces, dockerd)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cmdline := "go run ./bench/cnm " + strings.Join(os.Args[1:], " ")
	if err := run(ctx, *rounds, *out, strings.TrimSpace(cmdline)); err != nil {
		fmt.Fprintf(os.Stderr, "bench/cnm: %v\n", err)
		os.Exit(1)
	}
}

// env is one node with overlayd, dcnet-cnm and a private dockerd.
type env struct {
	tmp      string
	fabric   *netsim.Fabric
	node     *netsim.Node
	overlayd *netsim.Process
	plugin   *cnmtest.Proc
	dockerd  *cnmtest.Dockerd
	api      *api.Client
}

func setup(ctx context.Context) (e *env, err error) {
	e = &env{}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.close())
		}
	}()
	if e.tmp, err = os.MkdirTemp("", "dcnet-bench-cnm-"); err != nil {
		return e, err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", e.tmp+"/", "./overlayd/cmd/overlayd", "./cnm/cmd/dcnet-cnm")
	if b, err := build.CombinedOutput(); err != nil {
		return e, fmt.Errorf("build: %v\n%s", err, b)
	}
	if e.fabric, err = netsim.NewFabricNoT(netsimPrefix); err != nil {
		return e, err
	}
	if e.node, err = e.fabric.AddNode("node1"); err != nil {
		return e, err
	}
	sock := filepath.Join(e.tmp, "run", "overlayd.sock")
	e.overlayd, err = netsim.StartProcess(context.Background(), e.node, filepath.Join(e.tmp, "overlayd.log"),
		filepath.Join(e.tmp, "overlayd"), "--node-name", "node1", "--underlay-ip", e.node.UnderlayIP.String(),
		"--run-dir", filepath.Join(e.tmp, "run"), "--state-dir", filepath.Join(e.tmp, "state"), "--metrics-addr", "")
	if err != nil {
		return e, err
	}
	e.api = api.NewClient(sock)
	err = netsim.WaitFor(ctx, 30*time.Second, 20*time.Millisecond, func() error {
		ns, err := e.api.Networks(ctx)
		if err == nil && (len(ns) == 0 || ns[0].NodeSubnet == "") {
			err = errors.New("no subnet yet")
		}
		return err
	})
	if err != nil {
		return e, fmt.Errorf("overlayd not ready: %w", err)
	}
	if e.dockerd, err = cnmtest.NewDockerd(netsim.NSPath(e.node.NSName)); err != nil {
		return e, err
	}
	pluginSock := filepath.Join(e.dockerd.PluginDir, cnmtest.PluginName+".sock")
	e.plugin, err = cnmtest.Start(netsim.NSPath(e.node.NSName), filepath.Join(e.tmp, "cnm.log"), filepath.Join(e.tmp, "dcnet-cnm"),
		"--socket", pluginSock, "--overlayd-socket", sock, "--state-dir", filepath.Join(e.tmp, "cnm-state"))
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
	nets, _ := e.api.Networks(ctx)
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

func (e *env) close() error {
	var errs []error
	if e.dockerd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
		if ids, err := e.dockerd.Docker(ctx, "ps", "-aq"); err == nil && ids != "" {
			e.dockerd.Docker(ctx, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		cancel()
		errs = append(errs, e.dockerd.Close())
	}
	if e.plugin != nil {
		errs = append(errs, e.plugin.Stop(10*time.Second))
	}
	if e.overlayd != nil {
		errs = append(errs, e.overlayd.Stop())
	}
	if e.fabric != nil {
		errs = append(errs, e.fabric.Close())
	}
	if e.tmp != "" {
		errs = append(errs, os.RemoveAll(e.tmp))
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, rounds int, out, cmdline string) (err error) {
	e, err := setup(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.close()) }()
	start := time.Now().UTC()
	load0 := loadAvg()
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
				return err
			}
			if i >= 0 {
				times[n] = append(times[n], time.Since(t0))
			}
		}
	}
	// Nothing leaked: every --rm container gave its address back.
	atts, err := e.api.Attachments(ctx)
	if err != nil {
		return err
	}
	for _, a := range atts {
		if a.Runtime == api.RuntimeDocker {
			return fmt.Errorf("address leaked after the runs: %s %v", a.AttachmentID, a.IPs)
		}
	}
	section := report(times, rounds, start, load0, loadAvg(), cmdline)
	fmt.Print(section)
	if out == "" {
		return nil
	}
	return benchkit.Update(out, section)
}

type stats struct{ median, p99, mean time.Duration }

func summarize(ds []time.Duration) stats {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	p99 := s[min(len(s)-1, (len(s)*99+99)/100-1)]
	return stats{median: s[len(s)/2], p99: p99, mean: sum / time.Duration(len(s))}
}

func report(times map[string][]time.Duration, rounds int, start time.Time, load0, load1, cmdline string) string {
	d, b := summarize(times["dcos"]), summarize(times[bridgeNet])
	ratio := float64(d.median) / float64(b.median)
	verdict := "PASS"
	if ratio > targetRatio {
		verdict = "MISS"
	}
	ms := func(x time.Duration) string { return fmt.Sprintf("%.1f ms", float64(x.Microseconds())/1000) }
	var sb strings.Builder
	fmt.Fprintf(&sb, "## %s\n\n", sectionTitle)
	fmt.Fprintf(&sb, "Measured %s on %s CPUs, %s; 1-minute load average %s at the start, %s at the end.\n",
		start.Format("2006-01-02 15:04 UTC"), fmt.Sprint(runtime.NumCPU()), runtime.Version(), load0, load1)
	fmt.Fprintf(&sb, "Command: `%s` (as root, from the repository root).\n\n", cmdline)
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

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func dockerVersion() string {
	out, err := exec.Command("dockerd", "--version").Output()
	if err != nil {
		return "dockerd"
	}
	return strings.TrimSpace(string(out))
}
