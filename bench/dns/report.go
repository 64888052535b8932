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

// clientBound is the dnsperf CPU busy %% from which dnsperf, not the
// server, is taken to limit a run.
const clientBound = 95

// medianBusy is the median busy %% of the servers' CPU (client false) or of
// dnsperf's over runs; -1 when not measured (unpinned).
func medianBusy(runs []perfResult, client bool) float64 {
	var xs []float64
	for _, r := range runs {
		v := r.BusyServer
		if client {
			v = r.BusyClient
		}
		if v >= 0 {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return -1
	}
	return benchkit.Median(xs)
}

// busyPair renders "server% / dnsperf%" of runs, or "-" unpinned.
func busyPair(runs []perfResult) string {
	s, c := medianBusy(runs, false), medianBusy(runs, true)
	if s < 0 || c < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%% / %.0f%%", s, c)
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

// Ratios are the one-line results, also printed to stdout.
func (r report) Ratios() []string {
	var out []string
	for _, qs := range r.Res.Sets {
		d, c := medianQPS(r.Res.Throughput[qs.Name][srvDCNet]), medianQPS(r.Res.Throughput[qs.Name][srvCoreDNS])
		ratio := d / c
		out = append(out, fmt.Sprintf("%s: median q/s %s %.0f / %s %.0f = %.2f (target >= %.2f): %s",
			qs.Name, srvDCNet, d, srvCoreDNS, c, ratio, targetQPSRatio, benchkit.PassMiss(ratio >= targetQPSRatio)))
		ld, lc := r.Res.Latency[qs.Name][srvDCNet], r.Res.Latency[qs.Name][srvCoreDNS]
		p99 := float64(ld.P99) / float64(lc.P99)
		out = append(out, fmt.Sprintf("%s: p99 latency at %d q/s %s %s / %s %s = %.2f (target <= %.2f): %s",
			qs.Name, ld.Rate, srvDCNet, ms(ld.P99), srvCoreDNS, ms(lc.P99), p99, targetP99Ratio, benchkit.PassMiss(p99 <= targetP99Ratio)))
		out = append(out, fmt.Sprintf("%s: CPU per answer at %d q/s (no target) %s %v / %s %v = %.2f",
			qs.Name, ld.Rate, srvDCNet, us(ld.CPUPerAnswer()), srvCoreDNS, us(lc.CPUPerAnswer()),
			float64(ld.CPUPerAnswer())/float64(lc.CPUPerAnswer())))
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
	fmt.Fprintf(&b, "The cluster reaches the node as on a real one, through etcd: a Mesos-DNS master (`dcnet-dns --mode mesos-dns "+
		"--mesos-state-file --etcd-endpoints`, in its own netns with etcd %s) polls a generated Mesos master state of %d running tasks "+
		"on %d agents, each with a container IP, and publishes its %d task names (`<task>.marathon.{agentip,containerip,autoip}.dcos.thisdcos.directory`, "+
		"one A record each, one etcd key per name; all in etcd %v after its start), and %d named VIPs are written as dcnet-l4lb writes them "+
		"(`/dcnet/v1/vipnames/<name>`): **%d cluster records**. The node's dcnet-dns (`--etcd-endpoints`, no Mesos state) mirrors both prefixes. "+
		"%s serves the same %d A records (same TTL %d) from two zone files (`file` plugin, `reload 0`). "+
		"For every other name both forward to the same upstream, Debian's unbound in its own namespace, through their caches "+
		"(dcnet-dns's built-in cache; CoreDNS `forward` + `cache`). Each server runs in its own node netns with GOMAXPROCS=%d%s; "+
		"%s runs in a client netns, `-c %d -q %d`.\n\n",
		etcdVersion(), d.Tasks, (d.Tasks+tasksPerAgent-1)/tasksPerAgent, d.TaskNames, e.Published.Round(100*time.Millisecond), d.VIPs, d.Records(),
		e.Version, d.Records(), clusterTTL, o.GoMaxProcs, pinNote(o), dnsperfVersion(), perfClients, perfOutstanding)
	fmt.Fprintf(&b, "What each side runs with: dcnet-dns with its defaults: GOMAXPROCS UDP sockets and TCP listeners per address "+
		"(SO_REUSEPORT), UDP read and written in batches (recvmmsg/sendmmsg), cached forwarded answers sent from the socket reader "+
		"as stored packed bytes (ID, flags, question case and TTLs patched). CoreDNS with the Corefile above: one socket per "+
		"address (no `multisocket` plugin), its `cache` defaults, no `prometheus` or `log` plugin.\n\n")
	fmt.Fprintf(&b, "Query sets: *cluster name*: %d names drawn at random from the tasks' `autoip` names; "+
		"*cached forwarded name*: %d names below `%s`, answered by the upstream once and from the cache after the warm-up. "+
		"Throughput: %d round(s) of %d s per server and set after a %v warm-up each, interleaved (alternating order); "+
		"medians over the rounds. Latency: dnsperf 2.10 prints no percentiles, so p50 and p99 come from `dnsperf -v` "+
		"(one line per answer), pooled over two %d s runs per server in ABBA order, at the same fixed rate for both: "+
		"%.0f%% of the slower server's median throughput. CPU per answer: the server's user + system time (/proc/<pid>/stat) "+
		"over those runs divided by their answers, a measure of each server's cost that no client limit caps (with one CPU each, "+
		"dnsperf's one thread tops out near 100,000 q/s here, which can cap the fastest server's q/s).\n\n",
		o.Queries, forwardNames, forwardZone, o.Rounds, o.Seconds, warmUp, o.LatSeconds, latencyLoad*100)
	rows := [][]string{{"query set", "dcnet-dns q/s", "CoreDNS q/s", "ratio", "target", "", "avg latency dcnet-dns", "avg latency CoreDNS", "lost / not NOERROR",
		"CPU busy server/dnsperf, dcnet-dns", "CPU busy server/dnsperf, CoreDNS"}}
	for _, qs := range res.Sets {
		dr, cr := res.Throughput[qs.Name][srvDCNet], res.Throughput[qs.Name][srvCoreDNS]
		d, c := medianQPS(dr), medianQPS(cr)
		dl, db := problems(dr)
		cl, cb := problems(cr)
		rows = append(rows, []string{qs.Name, fmt.Sprintf("%.0f", d), fmt.Sprintf("%.0f", c), fmt.Sprintf("**%.2f**", d/c),
			fmt.Sprintf(">= %.1f", targetQPSRatio), benchkit.PassMiss(d/c >= targetQPSRatio),
			ms(medianAvgLatency(dr)), ms(medianAvgLatency(cr)), fmt.Sprintf("%d / %d vs %d / %d", dl, db, cl, cb),
			busyPair(dr), busyPair(cr)})
	}
	b.WriteString(benchkit.Table(rows) + "\n")
	if o.Pin {
		for _, qs := range res.Sets {
			dr, cr := res.Throughput[qs.Name][srvDCNet], res.Throughput[qs.Name][srvCoreDNS]
			if ds, dc := medianBusy(dr, false), medianBusy(dr, true); dc >= clientBound && ds < dc-10 {
				fmt.Fprintf(&b, "%s: dnsperf's CPU was %.0f%% busy against dcnet-dns, whose CPU was %.0f%% busy: dnsperf limited "+
					"dcnet-dns's q/s, so the ratio (CoreDNS's CPU %.0f%% busy) is a lower bound of what dcnet-dns can do.\n\n",
					qs.Name, dc, ds, medianBusy(cr, false))
			}
		}
	}
	rows = [][]string{{"query set", "rate", "dcnet-dns p50", "dcnet-dns p99", "CoreDNS p50", "CoreDNS p99", "p99 ratio", "target", "",
		"CPU/answer dcnet-dns", "CPU/answer CoreDNS"}}
	for _, qs := range res.Sets {
		ld, lc := res.Latency[qs.Name][srvDCNet], res.Latency[qs.Name][srvCoreDNS]
		ratio := float64(ld.P99) / float64(lc.P99)
		rows = append(rows, []string{qs.Name, fmt.Sprintf("%d q/s", ld.Rate), ms(ld.P50), ms(ld.P99), ms(lc.P50), ms(lc.P99),
			fmt.Sprintf("**%.2f**", ratio), fmt.Sprintf("<= %.1f", targetP99Ratio), benchkit.PassMiss(ratio <= targetP99Ratio),
			us(ld.CPUPerAnswer()), us(lc.CPUPerAnswer())})
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
			"the source for clusters without etcd; it also serves the `mesos` zone): %d task-name records plus %d Mesos-DNS records. "+
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
	return fmt.Sprintf(", both pinned to CPU %d and dnsperf to CPU %d (`-pin`, taskset): each server has one CPU of its own "+
		"that dnsperf (one thread) does not take; docs/dns.md has unpinned figures", serverCPUIndex, clientCPUIndex)
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
