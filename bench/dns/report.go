package main

import (
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// report renders the results.
type report struct {
	Opts options
	Env  *env
	Res  results
}

// clientBusier reports whether dnsperf took more CPU than the server in
// the median of runs: the q/s then measured dnsperf, not the server.
func clientBusier(runs []perfResult) bool {
	var sv, cl []float64
	for _, r := range runs {
		sv, cl = append(sv, r.ServerShare()), append(cl, r.ClientShare())
	}
	return len(runs) > 0 && benchkit.Median(cl) > benchkit.Median(sv)
}

// shares renders the median CPU shares "server% / dnsperf%" of runs.
func shares(runs []perfResult) string {
	var sv, cl []float64
	for _, r := range runs {
		sv, cl = append(sv, r.ServerShare()), append(cl, r.ClientShare())
	}
	if len(runs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%% / %.0f%%", benchkit.Median(sv), benchkit.Median(cl))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// medianAvgLatency is the median over rounds of dnsperf's average latency.
func medianAvgLatency(runs []perfResult) time.Duration {
	ds := make([]time.Duration, len(runs))
	for i, r := range runs {
		ds[i] = r.AvgLatency
	}
	return benchkit.Median(ds)
}

// problems sums lost queries and answers other than NOERROR over runs.
func problems(runs []perfResult) (lost, bad int) {
	for _, r := range runs {
		lost += r.Lost
		bad += r.NonNoerror
	}
	return lost, bad
}

// cpuRatio is a's CPU per answer over b's in runs.
func cpuRatio(runs map[string]latencyRun, a, b string) float64 {
	return float64(runs[a].CPUPerAnswer()) / float64(runs[b].CPUPerAnswer())
}

// stretch labels a stretch goal's result.
func stretch(ok bool) string {
	if ok {
		return "stretch met"
	}
	return "stretch not met"
}

// Ratios are the one-line results, also printed to stdout.
func (r report) Ratios() []string {
	var out []string
	for _, qs := range r.Res.Sets {
		runs, rate := r.Res.Latency[qs.Name], r.Res.Rate[qs.Name]
		d, c, a := runs[srvDCNet], runs[srvCoreDNS], runs[qs.Anchor]
		cr := cpuRatio(runs, srvDCNet, srvCoreDNS)
		out = append(out, fmt.Sprintf("%s: CPU per answer at %d q/s %s %s / %s %s = %.2f (target <= %.2f): %s",
			qs.Name, rate, srvDCNet, us(d.CPUPerAnswer()), srvCoreDNS, us(c.CPUPerAnswer()), cr, targetCPURatio, benchkit.PassMiss(cr <= targetCPURatio)))
		ar := cpuRatio(runs, srvDCNet, qs.Anchor)
		out = append(out, fmt.Sprintf("%s: CPU per answer at %d q/s %s %s / %s %s = %.2f (stretch <= %.2f): %s",
			qs.Name, rate, srvDCNet, us(d.CPUPerAnswer()), qs.Anchor, us(a.CPUPerAnswer()), ar, stretchRatio, stretch(ar <= stretchRatio)))
		p99 := float64(d.P99) / float64(c.P99)
		out = append(out, fmt.Sprintf("%s: p99 latency at %d q/s %s %s / %s %s = %.2f (target <= %.2f): %s; %s %s",
			qs.Name, rate, srvDCNet, ms(d.P99), srvCoreDNS, ms(c.P99), p99, targetP99Ratio, benchkit.PassMiss(p99 <= targetP99Ratio), qs.Anchor, ms(a.P99)))
		if ok, why := r.rateValid(qs); !ok {
			out = append(out, fmt.Sprintf("%s: %s: the CPU figures above are not the servers' alone", qs.Name, why))
		}
		var q []string
		for _, s := range qs.Servers {
			runs := r.Res.Throughput[qs.Name][s.Name]
			flag := ""
			if clientBusier(runs) {
				flag = " (dnsperf busier)"
			}
			q = append(q, fmt.Sprintf("%s %.0f%s", s.Name, medianQPS(runs), flag))
		}
		out = append(out, fmt.Sprintf("%s: context, q/s at saturation (no target): %s", qs.Name, strings.Join(q, ", ")))
	}
	loaded, after := r.Res.Loaded[srvDCNet], r.Res.After[srvDCNet]
	worst := max(loaded.RSS, after.RSS)
	out = append(out, fmt.Sprintf("memory: %s VmRSS with %d cluster records from etcd %s after loading, %s after the queries (target <= %s): %s; %s/%s RSS %.2f",
		srvDCNet, r.Env.Data.Records(), mb(loaded.RSS), mb(after.RSS), mb(targetRSS), benchkit.PassMiss(worst <= targetRSS),
		srvDCNet, srvCoreDNS, float64(after.RSS)/float64(r.Res.After[srvCoreDNS].RSS)))
	if sf := r.Res.State; sf.Tasks > 0 {
		out = append(out, fmt.Sprintf("context (no target): node-mode %s reading a state file of %d tasks itself (%d task-name + %d mesos records): VmRSS %s after loading, %s after two re-reads of the unchanged file",
			srvDCNet, sf.Tasks, sf.TaskRecords, sf.MesosRecords, mb(sf.Loaded.RSS), mb(sf.Refreshed.RSS)))
	}
	return out
}

// rateValid reports whether every server of qs kept up with the fixed rate
// while dnsperf stayed under clientLimit, and if not why.
func (r report) rateValid(qs querySet) (bool, string) {
	for _, s := range qs.Servers {
		l := r.Res.Latency[qs.Name][s.Name]
		if l.MaxClientShare >= clientLimit {
			return false, fmt.Sprintf("dnsperf reached %.0f%% of its CPU against %s", l.MaxClientShare, s.Name)
		}
		if l.MinSustained < sustainedMin {
			return false, fmt.Sprintf("%s answered only %.0f%% of the rate in a run", s.Name, 100*l.MinSustained)
		}
	}
	return true, ""
}

// Markdown is the section of docs/benchmarks.md.
func (r report) Markdown() string {
	o, e, res := r.Opts, r.Env, r.Res
	refresh := o.Refresh.String()
	if o.Refresh == 0 {
		refresh = "5s (the default)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", sectionTitle)
	b.WriteString(e.Header(o.Command))
	d := e.Data
	versions := map[string]string{}
	for _, s := range e.Servers {
		versions[s.Name] = s.Version
	}
	fmt.Fprintf(&b, "The cluster reaches the node as on a real one, through etcd: a Mesos-DNS master (`dcnet-dns --mode mesos-dns "+
		"--mesos-state-file --etcd-endpoints`, in its own netns with etcd %s) polls a generated Mesos master state of %d running tasks "+
		"on %d agents, each with a container IP, and publishes its %d task names (`<task>.marathon.{agentip,containerip,autoip}.dcos.thisdcos.directory`, "+
		"one A record each, one etcd key per name; all in etcd %v after its start), and %d named VIPs are written as dcnet-l4lb writes them "+
		"(`/dcnet/v1/vipnames/<name>`): **%d cluster records**. The node's dcnet-dns (`--etcd-endpoints`, no Mesos state) mirrors both prefixes. "+
		"%s (`file` plugin, `reload 0`) and %s (`zonefile-load: whole`, no journal) serve the same %d A records (same TTL %d) from two zone files. "+
		"For every other name dcnet-dns and CoreDNS forward to the same upstream, Debian's unbound in its own namespace, through their caches "+
		"(dcnet-dns's built-in cache; CoreDNS `forward` + `cache`); the anchor %s (%s) is a caching resolver forwarding to that upstream. "+
		"Each server runs in its own node netns with GOMAXPROCS=%d (Knot DNS `udp-workers: %d`, Unbound `num-threads: %d`)%s; "+
		"%s runs in a client netns, `-c %d -q %d`.\n\n",
		etcdVersion(), d.Tasks, (d.Tasks+tasksPerAgent-1)/tasksPerAgent, d.TaskNames, e.Published.Round(100*time.Millisecond), d.VIPs, d.Records(),
		versions[srvCoreDNS], versions[srvKnot], d.Records(), clusterTTL, srvUnbound, versions[srvUnbound],
		o.GoMaxProcs, o.GoMaxProcs, o.GoMaxProcs, pinNote(o), dnsperfVersion(), perfClients, perfOutstanding)
	fmt.Fprintf(&b, "What dcnet-dns runs with: its defaults: GOMAXPROCS UDP sockets and TCP listeners per address "+
		"(SO_REUSEPORT), UDP read and written in batches (recvmmsg/sendmmsg), cached forwarded answers sent from the socket reader "+
		"as stored packed bytes (ID, flags, question case and TTLs patched); the client is a `--recursion-net` (the node's underlay "+
		"address forwards for no one else). CoreDNS: one socket per address (no `multisocket` plugin), its `cache` defaults, no "+
		"`prometheus` or `log` plugin.\n\n")
	fmt.Fprintf(&b, "The metric: **CPU time per answer** at one fixed rate per query set: a server's user + system time "+
		"(/proc/<pid>/stat) over the runs at that rate divided by their answers. The rate starts at %.0f%% of the slowest server's "+
		"median throughput and is halved (at most %d times) until every server answers at least %.0f%% of it in every run and "+
		"dnsperf stays below %.0f%% of its own CPU (its process's rusage), so the load generator never sets the pace. "+
		"Two %d s runs per server in mirrored order (A B C C B A). At that rate also p50 and p99 from `dnsperf -v` (one line per answer; "+
		"dnsperf 2.10 prints no percentiles). As context, queries per second at saturation: %d round(s) of %d s per server after a "+
		"%v warm-up, interleaved, medians, with both sides' CPU shares; a server whose dnsperf was busier than itself is marked: "+
		"there the figure is at least as much dnsperf's as the server's. Query sets: *cluster name*: %d names drawn at random from the tasks' `autoip` names; "+
		"*cached forwarded name*: %d names below `%s`, answered by the upstream once and from the cache after the warm-up.\n\n",
		rateLoad*100, rateTries-1, sustainedMin*100, clientLimit, o.LatSeconds, o.Rounds, o.Seconds, warmUp, o.Queries, forwardNames, forwardZone)
	rows := [][]string{{"query set", "rate", "server", "CPU/answer", "vs CoreDNS", "target", "", "vs anchor", "stretch", "p50", "p99", "answers", "least share of rate", "dnsperf CPU (max)"}}
	for _, qs := range res.Sets {
		runs := res.Latency[qs.Name]
		for _, s := range qs.Servers {
			l := runs[s.Name]
			row := []string{qs.Name, fmt.Sprintf("%d q/s", res.Rate[qs.Name]), s.Name, us(l.CPUPerAnswer()), "", "", "", "", "",
				ms(l.P50), ms(l.P99), fmt.Sprint(l.Answers), fmt.Sprintf("%.0f%%", 100*l.MinSustained), fmt.Sprintf("%.0f%%", l.MaxClientShare)}
			if s.Name == srvDCNet {
				cr, ar := cpuRatio(runs, srvDCNet, srvCoreDNS), cpuRatio(runs, srvDCNet, qs.Anchor)
				row[4], row[5], row[6] = fmt.Sprintf("**%.2f**", cr), fmt.Sprintf("<= %.1f", targetCPURatio), benchkit.PassMiss(cr <= targetCPURatio)
				row[7], row[8] = fmt.Sprintf("**%.2f** (%s)", ar, qs.Anchor), stretch(ar <= stretchRatio)
			}
			rows = append(rows, row)
		}
	}
	b.WriteString(benchkit.Table(rows) + "\n")
	for _, qs := range res.Sets {
		if ok, why := r.rateValid(qs); !ok {
			fmt.Fprintf(&b, "%s: %s even at %d q/s: the CPU figures of this set are not the servers' alone.\n\n", qs.Name, why, res.Rate[qs.Name])
		}
	}
	rows = [][]string{{"query set", "server", "q/s at saturation (context)", "avg latency", "lost / not NOERROR", "CPU server / dnsperf", ""}}
	for _, qs := range res.Sets {
		for _, s := range qs.Servers {
			runs := res.Throughput[qs.Name][s.Name]
			lost, bad := problems(runs)
			flag := ""
			if clientBusier(runs) {
				flag = "dnsperf busier"
			}
			rows = append(rows, []string{qs.Name, s.Name, fmt.Sprintf("%.0f", medianQPS(runs)), ms(medianAvgLatency(runs)),
				fmt.Sprintf("%d / %d", lost, bad), shares(runs), flag})
		}
	}
	b.WriteString(benchkit.Table(rows) + "\n")
	rows = [][]string{{"server", "first answer after start", "VmRSS after loading", "VmRSS after the queries", "VmHWM (peak)", "target", ""}}
	for _, s := range e.Servers {
		l, a := res.Loaded[s.Name], res.After[s.Name]
		target, v := "", ""
		if s.Name == srvDCNet {
			target, v = "<= "+mb(targetRSS), benchkit.PassMiss(max(l.RSS, a.RSS) <= targetRSS)
		}
		rows = append(rows, []string{s.Name, s.Ready.Round(time.Millisecond).String(), mb(l.RSS), mb(a.RSS), mb(a.HWM), target, v})
	}
	b.WriteString(benchkit.Table(rows) + "\n")
	if sf := res.State; sf.Tasks > 0 {
		fmt.Fprintf(&b, "Context, no target: a node-mode dcnet-dns that reads a Mesos state file of %d tasks itself (`--mesos-state-file`, "+
			"the source for clusters without etcd; it also serves the `mesos` zone, and the same records renamed under `mesos.thisdcos.directory` without a copy): %d task-name records plus %d Mesos-DNS records. "+
			"First answer after %v; VmRSS %s after loading, %s after two re-reads of the unchanged file (every %s: the file's digest is "+
			"unchanged, so nothing is parsed or rebuilt), peak %s.\n\n",
			sf.Tasks, sf.TaskRecords, sf.MesosRecords, sf.Ready.Round(time.Millisecond), mb(sf.Loaded.RSS), mb(sf.Refreshed.RSS),
			refresh, mb(sf.Refreshed.HWM))
	}
	b.WriteString("Ratios as printed:\n\n")
	for _, l := range r.Ratios() {
		b.WriteString("- " + l + "\n")
	}
	return b.String()
}

// pinNote describes -pin.
func pinNote(o options) string {
	if !o.Pin {
		return ", unpinned (`-pin=false`: dnsperf and the server share every CPU)"
	}
	return fmt.Sprintf(", every server pinned to CPU %d and dnsperf to CPU %d (`-pin`, taskset): each server has a CPU "+
		"that dnsperf (one thread) does not take", serverCPUIndex, clientCPUIndex)
}

// etcdVersion is etcd's "etcd Version: x.y.z" line, shortened.
func etcdVersion() string {
	out, _ := exec.Command("etcd", "--version").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "etcd Version: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// dnsperfVersion is dnsperf's "Version x.y.z" line.
func dnsperfVersion() string {
	out, _ := exec.Command("dnsperf", "-h").CombinedOutput() // -h exits 1
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Version ") {
			return "dnsperf " + strings.TrimPrefix(l, "Version ")
		}
	}
	return "dnsperf"
}
