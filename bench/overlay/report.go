package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// Targets from the issue, and units.
const (
	throughputTarget = 0.90 // overlay/underlay, at least
	convergeTargetMs = 1000 // p99 of join and leave, at most
	planningTargetMs = 10   // p99 of one change with 1,000 peers, at most
	memoryTargetMiB  = 50   // overlayd VmRSS with 1,000 peers, at most
	mtuNoise         = 0.05 // ratio differences below this are run-to-run noise
	busySender       = 80   // % of a CPU: below it an iperf3 sender was starved
	kibPerMiB        = 1 << 10
	bytesPerMiB      = 1 << 20
)

// results are what the three phases measured; a phase that did not run
// is nil.
type results struct {
	Throughput *throughputResult
	Converge   *convergeResult
	Scale      *scaleResult
}

// report renders the results as markdown, printed and written to the docs.
type report struct {
	opts    options
	res     results
	header  string // benchkit's: when, where, the command, the load
	targets [][]string
	missed  bool
}

func newReport(o options, res results, e *benchkit.Env) *report {
	return &report{opts: o, res: res, header: e.Header(o.Command)}
}

// target adds one row to the target table.
func (r *report) target(what, value, limit string, ok bool) {
	r.targets = append(r.targets, []string{what, value, limit, benchkit.PassMiss(ok)})
	r.missed = r.missed || !ok
}

// Markdown returns the section, heading included.
func (r *report) Markdown() string {
	r.targets = [][]string{{"target", "measured", "limit", "result"}}
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", sectionTitle)
	b.WriteString(r.header)
	b.WriteString("Everything runs in network namespaces (prefix `dcnet-" + netsimPrefix + "-`) on one fabric bridge, underlay 198.18.0.0/15 " +
		"with MTU 1500; etcd is Debian's etcd-server (one member in a master netns), overlayd the binary from `make build` with its default " +
		"config and `--etcd-endpoints`.\n\n")
	if t := r.res.Throughput; t != nil {
		r.throughput(&b, t)
	}
	if c := r.res.Converge; c != nil {
		r.converge(&b, c)
	}
	if s := r.res.Scale; s != nil {
		r.scale(&b, s)
	}
	b.WriteString("### Targets\n\n")
	b.WriteString(benchkit.Table(r.targets))
	return b.String()
}

func (r *report) throughput(b *strings.Builder, t *throughputResult) {
	b.WriteString("### 1. Throughput: overlay vs underlay\n\n")
	fmt.Fprintf(b, "iperf3 TCP, one stream, %d s per run after %d s left out (`iperf3 -c <ip> -t %d -O %d -J`), %s after a discarded "+
		"warm-up; the paths alternate order every round; the value is the median of the server's received rate. Underlay: "+
		"between the two node netns on their 198.18.0.x addresses. Overlay: between containers on the two nodes, attached with "+
		"the dcnet plugin through cnitool, across vtep1024.\n\n", t.Seconds, iperfOmit, t.Seconds, iperfOmit, plural(t.Rounds, "round"))
	if t.CPUs.Split {
		fmt.Fprintf(b, "CPU placement: on one machine every veth hands a packet to the backlog of the CPU that sent it, so left alone the "+
			"sender's CPU does the kernel work of both nodes: its own transmit path and the receiving node's forwarding, "+
			"decapsulation and TCP receive, which two real nodes do on their own CPUs. \"One CPU per node\" gives each node "+
			"a CPU as two machines have: the client node is CPU %d (iperf3 client pinned there, RPS on its eth0 to it), the server "+
			"node CPU %d (iperf3 server pinned, RPS on its eth0 to it), so what a node receives from the fabric is processed on that "+
			"node's CPU. The target rows use it; the two \"shared CPU\" rows measure the same overlay and plain paths with RPS "+
			"off (client and server still pinned), as this benchmark did before. CPU busy is the share of each node's CPU that "+
			"was not idle during the run (/proc/stat), so the bottleneck of each row can be read off.\n\n", t.CPUs.Client, t.CPUs.Server)
	} else {
		fmt.Fprintf(b, "CPU placement: only CPU %d was available to the benchmark, so both nodes' kernel work shares it.\n\n", t.CPUs.Client)
	}
	under := benchkit.Median(gbps(t.Runs[t.Paths[0]]))
	rows := [][]string{{"path", "CPUs", "Gbit/s (median)", "per round", "retransmits", "CPU busy client/server node", "vs underlay"}}
	for _, p := range t.Paths {
		runs := t.Runs[p]
		var per []string
		retr := 0
		var bc, bs []float64
		for _, x := range runs {
			per = append(per, fmt.Sprintf("%.2f", x.Gbps))
			retr += x.Retransmits
			bc, bs = append(bc, x.BusyClient), append(bs, x.BusyServer)
		}
		m := benchkit.Median(gbps(runs))
		pl, vs := perNode.String(), fmt.Sprintf("%.2f", m/under)
		if !t.CPUs.Split || strings.HasSuffix(p, sharedSuffix) {
			pl = sharedCPU.String()
		}
		if strings.HasSuffix(p, sharedSuffix) {
			vs = "-"
		}
		rows = append(rows, []string{strings.TrimSuffix(p, sharedSuffix), pl, fmt.Sprintf("%.2f", m), strings.Join(per, " "), fmt.Sprint(retr),
			fmt.Sprintf("%.0f%% / %.0f%%", benchkit.Median(bc), benchkit.Median(bs)), vs})
	}
	b.WriteString(benchkit.Table(rows))
	var mtus []string
	for _, k := range []string{"node " + underlayDev, vtepName, bridgeName, "container eth0 (" + overlayName + ")", "container eth0 (" + cniRaised + ")"} {
		mtus = append(mtus, fmt.Sprintf("%s %d", k, t.MTU[k]))
	}
	fmt.Fprintf(b, "\nMTUs on the client node: %s. "+
		"Diagnostic rows, not targets: the raised-MTU row sets `\"mtu\": %d` in the CNI config only (overlayd still sets the "+
		"bridge %s to its overlay MTU, so bridged packets stay within 1420); the vxlan-only row runs from the client node netns "+
		"to the server node's bridge address through %s, without the containers' veth and bridge hops.\n\n",
		strings.Join(mtus, ", "), mtuRaised, bridgeName, vtepName)
	overlay := benchkit.Median(gbps(t.Runs[t.Target]))
	ratio := overlay / under
	if len(t.Paths) >= 4 {
		raised, vx := benchkit.Median(gbps(t.Runs[t.Paths[2]]))/under, benchkit.Median(gbps(t.Runs[t.Paths[3]]))/under
		mtuVerdict := "so the 30 bytes of MTU are not what costs"
		if raised-ratio >= mtuNoise {
			mtuVerdict = fmt.Sprintf("so the smaller MTU costs %.2f of the underlay", raised-ratio)
		}
		fmt.Fprintf(b, "Reading the diagnostics: VxLAN alone, node to node, reaches %.2f of the underlay; the containers' veth "+
			"and bridge hops on both ends bring it to %.2f; a container MTU of %d gives %.2f, %s. ", vx, ratio, mtuRaised, raised, mtuVerdict)
		if busy := benchkit.Median(busyClient(t.Runs[t.Paths[0]])); busy >= busySender {
			b.WriteString("Each path is one TCP stream and the client node's CPU is nearly always the busy one (see CPU busy): " +
				"the figures are the per-byte CPU cost of each path on this machine, and the plain underlay (two veths and a " +
				"bridge, no encapsulation) is the cheapest path the kernel has.\n\n")
		} else {
			fmt.Fprintf(b, "The underlay's client node CPU was only %.0f%% busy: something other than CPU limited the run "+
				"(or the machine was busy with other work), so these figures say more about that than about the paths.\n\n", busy)
		}
	}
	plain := benchkit.Median(gbps(t.Runs[t.Anchor]))
	vsPlain := overlay / plain
	fmt.Fprintf(b, "The target compares the same two containers both ways, %s: over the overlay (%.2f Gbit/s) and with their "+
		"node subnets routed over the plain underlay instead (%.2f Gbit/s; overlayd stopped for the phase so its reconcile "+
		"does not undo the route swap, vtep1024 routes put back after every run): overlay/plain = %.3f (per round: %s). The "+
		"node-to-node row is context: it skips the containers' veth and bridge hops, which every container path pays.",
		perNodeOr(t.CPUs.Split), overlay, plain, vsPlain, roundRatios(t.Runs[t.Target], t.Runs[t.Anchor]))
	var shared float64
	if t.SharedOverlay != "" {
		so, sp := benchkit.Median(gbps(t.Runs[t.SharedOverlay])), benchkit.Median(gbps(t.Runs[t.SharedPlain]))
		shared = so / sp
		fmt.Fprintf(b, " With the shared CPU the same pair gives %.2f and %.2f Gbit/s, overlay/plain = %.3f (per round: %s): there "+
			"the sending CPU pays for encapsulation and decapsulation both, which no real pair of nodes does.",
			so, sp, shared, roundRatios(t.Runs[t.SharedOverlay], t.Runs[t.SharedPlain]))
	}
	sensRatio := math.NaN()
	if runs := t.Runs[sensitivityLabel]; len(runs) > 0 {
		sensRatio = benchkit.Median(gbps(runs)) / plain
		fmt.Fprintf(b, " Sensitivity check: the same overlay with the client node's eth0 segmenting the VxLAN packets in software "+
			"(`ethtool -K eth0 %s off` there, put back after the run) reaches %.3f of plain routing, so a costlier "+
			"encapsulation shows in the target's placement.", strings.Join(tunnelGSO, " off "), sensRatio)
	}
	b.WriteString("\n\n")
	r.target("throughput overlay/plain routing, same containers, default MTU 1420, "+perNodeOr(t.CPUs.Split),
		fmt.Sprintf("%.3f", vsPlain), fmt.Sprintf(">= %.2f", throughputTarget), vsPlain >= throughputTarget)
	if t.SharedOverlay != "" {
		r.targets = append(r.targets, []string{"(context, no target) the same with a shared CPU", fmt.Sprintf("%.3f", shared), "-", "-"})
	}
	if !math.IsNaN(sensRatio) {
		r.targets = append(r.targets, []string{"(context, no target) sensitivity check: VxLAN segmented in software", fmt.Sprintf("%.3f", sensRatio), "-", "-"})
	}
	r.targets = append(r.targets, []string{"(context, no target) overlay containers / node-to-node underlay", fmt.Sprintf("%.2f", ratio), "-", "-"})
}

// perNodeOr names the placement of the target rows.
func perNodeOr(split bool) string {
	if split {
		return perNode.String()
	}
	return sharedCPU.String()
}

// roundRatios renders a/b round by round.
func roundRatios(a, b []iperfRun) string {
	var out []string
	for i := range min(len(a), len(b)) {
		out = append(out, fmt.Sprintf("%.2f", a[i].Gbps/b[i].Gbps))
	}
	return strings.Join(out, " ")
}

func busyClient(runs []iperfRun) []float64 {
	out := make([]float64, len(runs))
	for i, x := range runs {
		out[i] = x.BusyClient
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func gbps(runs []iperfRun) []float64 {
	out := make([]float64, len(runs))
	for i, x := range runs {
		out[i] = x.Gbps
	}
	return out
}

func (r *report) converge(b *strings.Builder, c *convergeResult) {
	b.WriteString("### 2. Convergence: nodes joining and leaving\n\n")
	fmt.Fprintf(b, "%d nodes run overlayd against one etcd member; %d more start one at a time, then leave one at a time "+
		"(overlayd stopped by PID, then `dcnetctl --socket <sock> node remove NAME` on a remaining node). Anchor: the moment a watch "+
		"on `/dcnet/v1/nodes/` held by the bench (its gRPC connection dialled inside the master netns) delivers the node record's "+
		"PUT (join) or DELETE (leave). Done: every other running node's kernel has (no longer has) the route to the node's subnet "+
		"on vtep1024 (netlink route dump in that node's netns) and its `client.Peers` lists (no longer lists) it. Every node is "+
		"checked every %v, so a value is late by at most that plus one check. The cluster settles (untimed) before the next step. "+
		"With %d samples p99 is the maximum.\n\n", c.Base, c.Joins, pollInterval, c.Joins)
	join, leave, rec := summarize(c.Join), summarize(c.Leave), summarize(c.StartToRecord)
	obs := func(xs []int) string {
		if len(xs) == 0 {
			return "-"
		}
		return fmt.Sprintf("%d to %d", xs[0], xs[len(xs)-1])
	}
	b.WriteString(benchkit.Table([][]string{
		{"event", "n", "nodes that converge", "p50", "p99", "max"},
		{"join: record PUT -> all nodes program it", fmt.Sprint(join.N), obs(c.ObserversJoin), benchkit.Millis(join.P50), benchkit.Millis(join.P99), benchkit.Millis(join.Max)},
		{"leave: record DELETE -> all nodes dropped it", fmt.Sprint(leave.N), obs(c.ObserversLeave), benchkit.Millis(leave.P50), benchkit.Millis(leave.P99), benchkit.Millis(leave.Max)},
		{"(context) overlayd start -> its record PUT", fmt.Sprint(rec.N), "-", benchkit.Millis(rec.P50), benchkit.Millis(rec.P99), benchkit.Millis(rec.Max)},
	}))
	b.WriteString("\n")
	limit := time.Duration(convergeTargetMs) * time.Millisecond
	r.target("join convergence p99", benchkit.Millis(join.P99), fmt.Sprintf("<= %d ms", convergeTargetMs), join.N > 0 && join.P99 <= limit)
	r.target("leave convergence p99", benchkit.Millis(leave.P99), fmt.Sprintf("<= %d ms", convergeTargetMs), leave.N > 0 && leave.P99 <= limit)
}

func (r *report) scale(b *strings.Builder, s *scaleResult) {
	fmt.Fprintf(b, "### 3. Control plane with %d nodes\n\n", s.Peers)
	fmt.Fprintf(b, "%d node records (dual-stack, as the default config makes them) with their subnet and VTEP leases are written "+
		"to a fresh etcd member, then ONE real overlayd starts in its own netns. Its kernel is real but private to that netns, so it "+
		"really programs %d peers (%d neighbours, %d FDB entries, %d routes). Then %d changes, one at a time: a simulated node's "+
		"underlay address moves (one FDB replace). Anchor: the bench's watch delivers the PUT. Done: the kernel of overlayd's netns "+
		"announces the new FDB entry (a netlink neighbour subscription in that netns, as `bridge monitor fdb` sees it: event-driven, "+
		"no polling). The reconcile's own duration is the delta of overlayd's `dcnet_overlayd_reconcile_duration_seconds` sum "+
		"(scraped on 127.0.0.1:%s inside its netns before the change and after the write) when its count moved by exactly one "+
		"(%d of %d changes shared the window with another reconcile and are left out of that row). The in-process rows time "+
		"datapath.PlanPeers+DiffPeers over the same %d peers, alone and after JSON-decoding every record (the cost of a pass "+
		"without a decode cache); the in-netns rows time the two parts of a full read-back pass (start, timer, repair) that "+
		"grow or stay big with the cluster, with the very calls overlayd makes.\n\n",
		s.Peers, s.Peers, 2*s.Peers, s.Peers, 2*s.Peers, len(s.Change), strings.TrimPrefix(scaleMetricsAddr, "127.0.0.1:"),
		s.SharedReconciles, len(s.Change), s.Peers)
	rows := [][]string{{"measure", "n", "p50", "p99", "max"}}
	add := func(what string, ds []time.Duration) summary {
		sm := summarize(ds)
		rows = append(rows, []string{what, fmt.Sprint(sm.N), benchkit.Millis(sm.P50), benchkit.Millis(sm.P99), benchkit.Millis(sm.Max)})
		return sm
	}
	change := add("overlayd: change in etcd -> new FDB entry in its kernel", s.Change)
	add("overlayd: the reconcile that applied it (its own metric)", s.Reconcile)
	plan := add("in-process: PlanPeers+DiffPeers, one change", s.Plan)
	add("in-process: decode every record + PlanPeers+DiffPeers", s.DecodePlan)
	add("in netns: datapath.ReadPeerState (netlink dumps of every peer entry)", s.ReadPeerState)
	add(fmt.Sprintf("in netns: EnsureMasquerade's steady-state check, one iptables-save per table and family (%d execs)", s.IptablesExecs), s.Iptables)
	b.WriteString(benchkit.Table(rows))
	fmt.Fprintf(b, "\nInitial programming of %d peers: %.2f s from overlayd's start. overlayd's memory with %d peers: VmRSS %.1f MiB "+
		"(VmHWM %.1f MiB, Go heap in use %.1f MiB).\n\n", s.Peers, s.Initial.Seconds(), s.Peers,
		float64(s.RSSKiB)/kibPerMiB, float64(s.HWMKiB)/kibPerMiB, s.HeapInuse/bytesPerMiB)
	if c := r.res.Converge; c != nil && c.SmallRSSKiB > 0 {
		fmt.Fprintf(b, "For comparison, an overlayd with %d peers (phase 2, largest cluster) had VmRSS %.1f MiB.\n\n",
			c.SmallPeers, float64(c.SmallRSSKiB)/kibPerMiB)
	}
	limit := time.Duration(planningTargetMs) * time.Millisecond
	r.target(fmt.Sprintf("change -> kernel updated p99, overlayd with %d peers", s.Peers), benchkit.Millis(change.P99), fmt.Sprintf("<= %d ms", planningTargetMs), change.N > 0 && change.P99 <= limit)
	r.target(fmt.Sprintf("planning p99 (PlanPeers+DiffPeers, %d peers)", s.Peers), benchkit.Millis(plan.P99), fmt.Sprintf("<= %d ms", planningTargetMs), plan.N > 0 && plan.P99 <= limit)
	rss := float64(s.RSSKiB) / kibPerMiB
	r.target(fmt.Sprintf("overlayd VmRSS with %d peers", s.Peers), fmt.Sprintf("%.1f MiB", rss), fmt.Sprintf("<= %d MiB", memoryTargetMiB), rss <= memoryTargetMiB)
}
