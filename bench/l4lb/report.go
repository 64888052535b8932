package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// Targets from the issue.
const (
	targetVIPDirect1   = 0.95 // connection per request, one client, 10,000 VIPs
	targetVIPDirectSat = 0.90 // the same at saturation
	targetScale        = 0.95 // VIP with 10,000 other VIPs / with none
	targetKeepAlive    = 0.95
	targetInstall      = time.Second
	targetChangeP99    = 5 * time.Millisecond
	targetRSSMiB       = 100
	kibPerMiB          = 1024
)

// results are what the phases measured.
type results struct {
	KubeProxyTook  time.Duration
	KubeProxyRules int
	IPTables       string
	Install        *installResult
	Change         *changeResult
	Traffic        *trafficResult
	Memory         *memoryResult
	Daemon         *daemonResult
	DaemonErr      error
}

type report struct {
	o       options
	res     results
	header  string // benchkit's: when, where, the command, the load
	targets [][]string
}

func newReport(o options, res results, e *benchkit.Env) *report {
	return &report{o: o, res: res, header: e.Header(o.Command)}
}

func (r *report) target(what, measured, limit string, ok bool) {
	r.targets = append(r.targets, []string{what, measured, limit, benchkit.PassMiss(ok)})
}

// Markdown returns the section, heading included.
func (r *report) Markdown() string {
	r.targets = [][]string{{"target", "measured", "limit", "result"}}
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", sectionTitle)
	b.WriteString(r.header)
	b.WriteString("Two twin node netns (prefix `dcnet-bl4lb-`), each with a client container and three backend containers " +
		"on routed veths (9.0.1.2 → node → 9.0.2-4.2), backends being small Go TCP servers (one process each) and the client " +
		"a Go load generator in the client netns. On the dcnet node the VIP 11.0.0.1:80 is programmed by `dataplane.Syncer` " +
		"(nftables maps) beside 0, 1,000 or 10,000 other VIPs of 3 backends; on the kube-proxy node the same VIP is one of " +
		fmt.Sprintf("10,000 services in kube-proxy's iptables layout (KUBE-SERVICES → KUBE-SVC-* with `-m statistic --mode random "+
			"--probability` → KUBE-SEP-* DNAT, %d rules via iptables-restore (%s), the service under test in "+
			"the middle of KUBE-SERVICES). ", r.res.KubeProxyRules, r.res.IPTables) +
		"Connection per request = connect, send 64 bytes, read the 128-byte reply, close with RST (SO_LINGER 0, so no TIME_WAIT); " +
		"keep-alive = one connection per backend (the VIP's round robin gives its three connections one backend each), " +
		"64-byte request and 128-byte reply over them in turn; keep-alive paired = one client holding both sets of " +
		"connections (direct and VIP) and sending its requests to the two alternately (A B B A ...), so both paths " +
		"meet the same moments of a loaded machine; each path's rate there is its requests over the time spent in " +
		"them (1 / mean latency), and the keep-alive target is checked on it; " +
		"direct = the same backends dialled in turn; it crosses the same node, so it pays that node's conntrack and " +
		"(dcnet) the hairpin chain's first test or (kube-proxy) the walk of all of KUBE-SERVICES that no direct " +
		"connection matches, hence kube-proxy's slow direct path. " +
		fmt.Sprintf("%d measured rounds of %d ms samples after a discarded warm-up round; in each round every case runs once, "+
			"the order of the cases reversed every other round; ratios are the median of the per-round ratios.\n\n", r.o.Rounds, r.o.SampleMillis))
	r.trafficTables(&b)
	r.controlTables(&b)
	b.WriteString("\n" + benchkit.Table(r.targets))
	return b.String()
}

func (r *report) trafficTables(b *strings.Builder) {
	t := r.res.Traffic
	rows := [][]string{{"case", "req/s (median)", "per round", "latency p50", "latency p99", "errors"}}
	for _, c := range t.Cases {
		ss := t.Samples[c.Key]
		var rates, p50, p99 []float64
		for _, s := range ss {
			rates = append(rates, s.Rate())
			p50 = append(p50, s.P50us)
			p99 = append(p99, s.P99us)
		}
		rows = append(rows, []string{c.Label, fmt.Sprintf("%.0f", benchkit.Median(rates)), joinFloats(rates, "%.0f"),
			fmt.Sprintf("%.0f µs", benchkit.Median(p50)), fmt.Sprintf("%.0f µs", benchkit.Median(p99)), fmt.Sprint(t.Errors[c.Key])})
	}
	b.WriteString(benchkit.Table(rows) + "\n")

	big := otherVIPs[len(otherVIPs)-1]
	key := func(side string, n int, path, mode string, w int) string {
		return fmt.Sprintf("%s/%d/%s/%s/%d", side, n, path, mode, w)
	}
	sat := r.o.Saturation
	ratios := [][]string{{"ratio", "median", "per round"}}
	add := func(what, a, bKey string) float64 {
		v := perRound(t.Samples[a], t.Samples[bKey])
		ratios = append(ratios, []string{what, fmt.Sprintf("%.3f", benchkit.Median(v)), joinFloats(v, "%.3f")})
		return benchkit.Median(v)
	}
	for _, n := range otherVIPs {
		v := add(fmt.Sprintf("dcnet VIP/direct, conn per request, 1 client, %d other VIPs", n), key("dcnet", n, "VIP", modeCPR, 1), key("dcnet", n, "direct", modeCPR, 1))
		if n == big {
			r.target(fmt.Sprintf("VIP/direct, conn per request, 1 client, %d VIPs", big), fmt.Sprintf("%.3f", v), fmt.Sprintf(">= %.2f", targetVIPDirect1), v >= targetVIPDirect1)
		}
	}
	v := add(fmt.Sprintf("dcnet VIP/direct, conn per request, %d clients, %d other VIPs", sat, big), key("dcnet", big, "VIP", modeCPR, sat), key("dcnet", big, "direct", modeCPR, sat))
	r.target(fmt.Sprintf("VIP/direct, conn per request, %d clients, %d VIPs", sat, big), fmt.Sprintf("%.3f", v), fmt.Sprintf(">= %.2f", targetVIPDirectSat), v >= targetVIPDirectSat)
	v = add(fmt.Sprintf("dcnet VIP with %d other VIPs / with none, 1 client", big), key("dcnet", big, "VIP", modeCPR, 1), key("dcnet", 0, "VIP", modeCPR, 1))
	r.target(fmt.Sprintf("VIP(%d)/VIP(0), conn per request", big), fmt.Sprintf("%.3f", v), fmt.Sprintf(">= %.2f", targetScale), v >= targetScale)
	add(fmt.Sprintf("dcnet VIP/direct, keep-alive, 1 client, %d other VIPs (separate samples)", big), key("dcnet", big, "VIP", modeKeepAlive, 1), key("dcnet", big, "direct", modeKeepAlive, 1))
	v = add(fmt.Sprintf("dcnet VIP/direct, keep-alive paired (alternate requests), 1 client, %d other VIPs", big), key("dcnet", big, "VIP", modePaired, 1), key("dcnet", big, "direct", modePaired, 1))
	r.target("VIP/direct, keep-alive requests (paired)", fmt.Sprintf("%.3f", v), fmt.Sprintf(">= %.2f", targetKeepAlive), v >= targetKeepAlive)
	add(fmt.Sprintf("kube-proxy VIP/direct, conn per request, 1 client, %d services", big), key("kube-proxy", big, "VIP", modeCPR, 1), key("kube-proxy", big, "direct", modeCPR, 1))
	add(fmt.Sprintf("kube-proxy VIP/direct, conn per request, %d clients, %d services", sat, big), key("kube-proxy", big, "VIP", modeCPR, sat), key("kube-proxy", big, "direct", modeCPR, sat))
	add("dcnet VIP / kube-proxy VIP, conn per request, 1 client, 10,000 each", key("dcnet", big, "VIP", modeCPR, 1), key("kube-proxy", big, "VIP", modeCPR, 1))
	add(fmt.Sprintf("dcnet VIP / kube-proxy VIP, conn per request, %d clients, 10,000 each", sat), key("dcnet", big, "VIP", modeCPR, sat), key("kube-proxy", big, "VIP", modeCPR, sat))
	add("dcnet direct / kube-proxy direct, 1 client (the twin nodes' own difference)", key("dcnet", big, "direct", modeCPR, 1), key("kube-proxy", big, "direct", modeCPR, 1))
	b.WriteString(benchkit.Table(ratios) + "\n")
}

func (r *report) controlTables(b *strings.Builder) {
	in, ch, m := r.res.Install, r.res.Change, r.res.Memory
	var total []time.Duration
	for i := range in.Apply {
		total = append(total, in.Build[i]+in.Apply[i])
	}
	rows := [][]string{{"control plane", "median", "p99 / max", "n"}}
	rows = append(rows,
		[]string{fmt.Sprintf("full install of %d VIPs x %d backends (%d elements): Build + first Apply", in.VIPs, numBackend, in.Elements), ms(benchkit.NearestRank(total, 50)), ms(benchkit.NearestRank(total, 100)), fmt.Sprint(len(total))},
		[]string{"  of which dataplane.Build", ms(benchkit.NearestRank(in.Build, 50)), ms(benchkit.NearestRank(in.Build, 100)), fmt.Sprint(len(in.Build))},
		[]string{"  of which Syncer.Apply (read-back of the empty table + one batch)", ms(benchkit.NearestRank(in.Apply, 50)), ms(benchkit.NearestRank(in.Apply, 100)), fmt.Sprint(len(in.Apply))},
		[]string{fmt.Sprintf("one VIP change (backend replaced) with %d installed: Syncer.Apply", ch.VIPs), ms(benchkit.NearestRank(ch.Apply, 50)), ms(benchkit.NearestRank(ch.Apply, 99)), fmt.Sprint(len(ch.Apply))},
		[]string{"  of which the netlink batch (element delete + add, send to ack)", ms(benchkit.NearestRank(ch.Kernel, 50)), ms(benchkit.NearestRank(ch.Kernel, 99)), fmt.Sprint(len(ch.Kernel))},
		[]string{"  of which the Syncer in memory (diff, encoding)", ms(benchkit.NearestRank(minus(ch.Apply, ch.Kernel), 50)), ms(benchkit.NearestRank(minus(ch.Apply, ch.Kernel), 99)), fmt.Sprint(len(ch.Apply))},
		[]string{fmt.Sprintf("one VIP added with %d installed: Syncer.Apply (adds only)", ch.VIPs), ms(benchkit.NearestRank(ch.Add, 50)), ms(benchkit.NearestRank(ch.Add, 99)), fmt.Sprint(len(ch.Add))},
		[]string{"  of which the netlink batch", ms(benchkit.NearestRank(ch.AddKernel, 50)), ms(benchkit.NearestRank(ch.AddKernel, 99)), fmt.Sprint(len(ch.AddKernel))},
		[]string{fmt.Sprintf("one VIP change with %d installed: Syncer.Reconcile (read-back, as Sync did)", ch.VIPs), ms(benchkit.NearestRank(ch.Reconcile, 50)), ms(benchkit.NearestRank(ch.Reconcile, 100)), fmt.Sprint(len(ch.Reconcile))},
		[]string{fmt.Sprintf("dataplane.Build of %d VIPs (per change, before Apply)", ch.VIPs), ms(benchkit.NearestRank(ch.Build, 50)), ms(benchkit.NearestRank(ch.Build, 99)), fmt.Sprint(len(ch.Build))},
		[]string{fmt.Sprintf("kube-proxy peer: iptables-restore of %d services (%d rules), once", otherVIPs[len(otherVIPs)-1], r.res.KubeProxyRules), ms(r.res.KubeProxyTook), "-", "1"},
	)
	b.WriteString(benchkit.Table(rows) + "\n")
	b.WriteString("A replaced backend is one backends element deleted and added. An added VIP (or one whose slot count " +
		"changes) also writes a vips element, a jump in a verdict map, after which the kernel re-validates the jumps " +
		"of the whole map (O(VIPs)): hence the higher cost of an added VIP. The Reconcile row is what every change " +
		"cost before the Syncer (Sync read the whole table back).\n\n")
	rss := float64(m.RSSKiB) / kibPerMiB
	fmt.Fprintf(b, "Memory of the state alone: a child process that plans %d VIPs x %d backends, applies them with a "+
		"`dataplane.Syncer` to the nftables of its own netns and keeps the services and the Syncer, after a GC: "+
		"VmRSS %.1f MiB (Go heap in use %.1f MiB).\n", m.VIPs, numBackend, rss, float64(m.Heap.HeapInuse)/(1<<20))
	rssWhat := fmt.Sprintf("RSS with %d VIPs x %d backends (planning + syncer state only, child process; dcnet-l4lb not measured)", m.VIPs, numBackend)
	switch d := r.res.Daemon; {
	case d != nil:
		rss = float64(d.RSSKiB) / kibPerMiB
		rssWhat = fmt.Sprintf("dcnet-l4lb RSS (max) with %d VIPs x %d backends (%d endpoint records via etcd)", d.VIPs, numBackend, d.Records)
		fmt.Fprintf(b, "\nThe real daemon: Debian's etcd %s in its own netns, %d endpoint records (one container each, label "+
			"`VIP_0=11.1.x.y:80`, as overlayd writes them) written in %s; dcnet-l4lb from %s (`--etcd-endpoints`, "+
			"default sync interval) started in a fresh node netns had every VIP in its nftables %s after its start; "+
			"its VmRSS read every %v for the next %v (more than one periodic sync, whose read-back of the tables is "+
			"its peak) was at most %.1f MiB, at least %.1f MiB, %.1f MiB at the end.\n",
			etcdVersion(), d.Records, ms(d.Write), d.Binary, ms(d.Programmed), rssInterval, rssWindow, rss,
			float64(d.MinRSSKiB)/kibPerMiB, float64(d.LastRSSKiB)/kibPerMiB)
	case r.res.DaemonErr != nil:
		fmt.Fprintf(b, "\nThe real dcnet-l4lb could not be measured in this run (%v); the memory target below is checked "+
			"against the state-only child instead.\n", r.res.DaemonErr)
	default:
		b.WriteString("\nThe real dcnet-l4lb was not measured in this run (-daemon=false); the memory target below is checked " +
			"against the state-only child instead.\n")
	}
	slowest := slices.Max(total)
	r.target(fmt.Sprintf("full install of %d VIPs (slowest of %d)", in.VIPs, len(total)), ms(slowest), "<= 1 s", slowest <= targetInstall)
	r.target(fmt.Sprintf("one VIP change p99, Syncer.Apply, %d VIPs", ch.VIPs), ms(benchkit.NearestRank(ch.Apply, 99)), "<= 5 ms", benchkit.NearestRank(ch.Apply, 99) <= targetChangeP99)
	r.target(rssWhat, fmt.Sprintf("%.1f MiB", rss), fmt.Sprintf("<= %d MB", targetRSSMiB), rss*(1<<20) <= targetRSSMiB*1e6)
}

// minus is a[i]-b[i].
func minus(a, b []time.Duration) []time.Duration {
	out := make([]time.Duration, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// perRound returns a[i]/b[i] of the request rates, round by round.
func perRound(a, b []loadResult) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		out = append(out, a[i].Rate()/b[i].Rate())
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func joinFloats(v []float64, format string) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " ")
}
