package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// sectionTitle is the heading (after "## ") of this benchmark's section of
// docs/benchmarks.md, written with benchkit.Update.
const sectionTitle = "Convergence: names (bench/converge)"

// target is the bound on the p99 of a name's convergence.
const target = time.Second

// failed stands for a start whose name was never answered: it ranks above
// every measured value.
const failed = time.Duration(math.MaxInt64)

// results are what both phases measured.
type results struct {
	Refresh time.Duration
	VIP     []vipSample
	Task    []taskSample
}

// summary describes a set of durations in which failures count as
// infinitely late.
type summary struct {
	N, Failed     int
	P50, P99, Max time.Duration
}

// summarize computes nearest-rank percentiles (benchkit.NearestRank). An
// empty set gives zeros.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	sm := summary{N: len(ds), P50: benchkit.Median(ds), P99: benchkit.NearestRank(ds, 99), Max: slices.Max(ds)}
	for _, d := range ds {
		if d == failed {
			sm.Failed++
		}
	}
	return sm
}

// fmtMs renders a duration in milliseconds; a failure as not answered.
func fmtMs(d time.Duration) string {
	if d == failed {
		return "not seen"
	}
	return benchkit.Millis(d)
}

// between is to.Sub(from), or failed when either moment is missing.
func between(from, to time.Time) time.Duration {
	if from.IsZero() || to.IsZero() {
		return failed
	}
	return to.Sub(from)
}

// report renders the results as markdown, printed and written to the docs.
type report struct {
	opts    options
	res     results
	header  string // benchkit's: when, where, the command, the load
	targets [][]string
}

func newReport(o options, res results, e *benchkit.Env) *report {
	return &report{opts: o, res: res, header: e.Header(o.Command)}
}

// Markdown returns the section, heading included.
func (r *report) Markdown() string {
	r.targets = [][]string{{"target", "measured", "limit", "result"}}
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", sectionTitle)
	b.WriteString(r.header)
	fmt.Fprintf(&b, "The issue's target: a container started with a VIP or task name on node A resolves on node B within %s, p99 over "+
		"%d starts. Everything runs in network namespaces (prefix `dcnet-%s-`) on one fabric bridge, underlay 198.18.0.0/15: a master "+
		"with Debian's etcd-server (one member), the bench's fake Mesos master and `dcnet-dns --mode mesos-dns --mesos-master http://<master>:5050 --refresh %v --etcd-endpoints ...`; "+
		"nodes A and B each with overlayd (default config), dcnet-l4lb and dcnet-dns in node mode, started as `scripts/demo.sh` "+
		"starts them, binaries from `make build`. Containers are attached on A with `cnitool add` and the dcnet plugin, one at a time; "+
		"every container stays until the end, so the cluster grows to %d VIPs and %d tasks. B's answer is asked from B's node netns "+
		"(a miekg/dns client on a UDP socket made in that netns) to 198.51.100.1:53 every %s from just before the anchor, so a value "+
		"is late by at most that plus one query; a name not answered within %s counts as a failed start (infinitely late). "+
		"With fewer than 100 starts p99 is the maximum. An untimed warm-up VIP and task go first.\n\n",
		human(target), r.opts.N, netsimPrefix, r.res.Refresh, len(r.res.VIP)+1, len(r.res.Task)+1, human(pollInterval), human(giveUp))

	rows := [][]string{{"measure", "n", "failed", "p50", "p99", "max"}}
	add := func(what string, ds []time.Duration) summary {
		sm := summarize(ds)
		rows = append(rows, []string{what, fmt.Sprint(sm.N), fmt.Sprint(sm.Failed), fmtMs(sm.P50), fmtMs(sm.P99), fmtMs(sm.Max)})
		return sm
	}
	var fromEnd, fromStart, addDur, toEndpoint, toName, nameToB []time.Duration
	early, connOK, connFirst := 0, 0, 0
	var usable []time.Duration
	firstErrs := map[string]int{}
	for _, s := range r.res.VIP {
		if s.AddEnd.IsZero() {
			fromEnd, fromStart = append(fromEnd, failed), append(fromStart, failed)
			continue
		}
		addDur = append(addDur, s.AddEnd.Sub(s.AddStart))
		if s.Err != nil {
			fromEnd, fromStart = append(fromEnd, failed), append(fromStart, failed)
			continue
		}
		fromEnd = append(fromEnd, s.Answered.Sub(s.AddEnd))
		fromStart = append(fromStart, s.Answered.Sub(s.AddStart))
		toEndpoint = append(toEndpoint, between(s.AddStart, s.EndpointPut))
		toName = append(toName, between(s.AddStart, s.NamePut))
		nameToB = append(nameToB, between(s.NamePut, s.Answered))
		if s.Answered.Before(s.AddEnd) {
			early++
		}
		if s.Connect.OK {
			connOK++
		}
		if s.Connect.FirstTry {
			connFirst++
		}
		if s.Connect.FirstErr != nil {
			firstErrs[errText(s.Connect.FirstErr)]++
		}
		if s.Connect.OK {
			usable = append(usable, s.Connect.At.Sub(s.AddEnd))
		} else {
			usable = append(usable, failed)
		}
	}
	b.WriteString("### VIP names\n\n")
	fmt.Fprintf(&b, "Each start writes a new CNI config list whose dcnet plugin carries the label `VIP_0=/svc<i>:%d` (a unique name "+
		"each time) and attaches a new container on A to it; a Go listener on :%d waits in the container. Anchor: `cnitool add` "+
		"returned (the moment a container runtime would start the task). Done: B answers `svc<i>%s` with an A record. The context "+
		"rows break the path down with a watch the bench holds on `/dcnet/v1/` (dialled inside the master netns): overlayd's "+
		"endpoint record, then the VIP's name record under `/dcnet/v1/vipnames/` that a dcnet-l4lb writes after programming the VIP "+
		"in its own kernel, then B's answer.\n\n", vipPort, vipPort, vipDomain)
	vipSum := add("VIP name: `cnitool add` returned -> B answers", fromEnd)
	startSum := add("(context) `cnitool add` started -> B answers", fromStart)
	add("(context) `cnitool add` duration (dcnet plugin + overlayd)", addDur)
	add("(context) `cnitool add` started -> endpoint record PUT", toEndpoint)
	add("(context) `cnitool add` started -> VIP name record PUT", toName)
	add("(context) VIP name record PUT -> B answers", nameToB)
	add("(context) `cnitool add` returned -> a container on B has connected to the VIP", usable)
	b.WriteString(benchkit.Table(rows))
	answered := vipSum.N - vipSum.Failed
	fmt.Fprintf(&b, "\n%d of %d names were answered before `cnitool add` returned (a negative value from that anchor): overlayd "+
		"publishes the endpoint record, labels included, when the plugin's Allocate request creates the attachment, before the "+
		"plugin wires the veth, so the name can go live while ADD is still running; the row from ADD's start bounds the whole path. "+
		"After B answered, a container on B connected to the answered VIP on port %d (the DNAT in B's kernel to the container on A, "+
		"over the overlay): %d of %d at the first attempt, %d of %d within %s.\n\n",
		early, answered, vipPort, connFirst, answered, connOK, answered, human(connectWindow))
	if len(firstErrs) > 0 {
		var errs []string
		for e, n := range firstErrs {
			errs = append(errs, fmt.Sprintf("%d x `%s`", n, e))
		}
		slices.Sort(errs)
		fmt.Fprintf(&b, "First attempts that failed (retried every %s): %s.", human(connectRetry), strings.Join(errs, ", "))
		if firstErrs[unreachable] > 0 {
			b.WriteString(" The VIP's name record is written by whichever dcnet-l4lb programmed the VIP first (the others skip the write once they " +
				"see the same record stored), so B's dcnet-dns can answer the name before B's own dcnet-l4lb has " +
				"programmed the VIP; a client on B that connects in that window gets no DNAT, and `" + unreachable + "` is B " +
				"answering for 11.0.0.0/8, which it has no route to.")
		}
		b.WriteString("\n\n")
	}
	r.target(fmt.Sprintf("VIP name resolves on B, p99 of %d starts (from `cnitool add` returned)", vipSum.N), vipSum, vipSum.N > 0)
	r.target(fmt.Sprintf("(stricter anchor) VIP name resolves on B, p99 of %d starts (from `cnitool add` started)", startSum.N), startSum, startSum.N > 0)
	r.targets = append(r.targets, []string{"(check) VIP accepts a TCP connection from a container on B", fmt.Sprintf("%d/%d", connOK, vipSum.N),
		fmt.Sprintf("%d/%d within %s", vipSum.N, vipSum.N, human(connectWindow)), benchkit.PassMiss(vipSum.N > 0 && connOK == vipSum.N)})

	rows = [][]string{{"measure", "n", "failed", "p50", "p99", "max"}}
	var fromChange, toPublish, publishToB []time.Duration
	for _, s := range r.res.Task {
		if s.Err != nil {
			fromChange = append(fromChange, failed)
			continue
		}
		fromChange = append(fromChange, s.Answered.Sub(s.Changed))
		toPublish = append(toPublish, between(s.Changed, s.Published))
		publishToB = append(publishToB, between(s.Published, s.Answered))
	}
	b.WriteString("### Task names\n\n")
	fmt.Fprintf(&b, "Each start attaches a new container on A (plain `dcos` network, no label), then the bench's fake Mesos master "+
		"(an HTTP server in the master netns on :5050) answers `/master/state` with one more running task `task<i>` of framework "+
		"marathon whose container IP (`statuses[].container_status.network_infos`) is the container's address, and sends "+
		"`TASK_ADDED` on its operator API event stream (`POST /api/v1` SUBSCRIBE, RecordIO frames, as Mesos does at a task "+
		"launch). Anchor: the master's state showed the task. Done: B answers `task<i>%s` with that IP. The path: dcnet-dns "+
		"`--mode mesos-dns --mesos-master` holds the event stream open and polls `/master/state` at the event (besides every "+
		"`--refresh %v`, here dcnet-dns's default), generates the records, and the elected publisher writes one key per task name "+
		"under `/dcnet/v1/dns/tasknames/`; every node-mode dcnet-dns watches that prefix and updates its zone.\n\n",
		taskDomain, r.res.Refresh)
	taskSum := add("task name: master state shows it -> B answers", fromChange)
	add("(context) master state -> task names PUT (event + poll + generate + write)", toPublish)
	add("(context) task names PUT -> B answers (watch + zone update)", publishToB)
	b.WriteString(benchkit.Table(rows))
	fmt.Fprintf(&b, "\nHow far this anchor is from a real cluster's: there, Mesos updates its master state and sends the event when "+
		"the task reaches TASK_RUNNING, and a real master's state is bigger than this one, so its fetch and the records' generation "+
		"take longer. Without the event stream (`--mesos-subscribe=false`, or a master without the operator API) the wait for the "+
		"next poll alone is up to `--refresh` (%v here). Neither the container start itself nor Mesos's own delay until the state "+
		"shows the task is in the figure.\n\n", r.res.Refresh)
	r.target(fmt.Sprintf("task name resolves on B, p99 of %d starts (from the master's state showing it, `--refresh %v`)", taskSum.N, r.res.Refresh), taskSum, taskSum.N > 0)

	b.WriteString("### Targets\n\n")
	b.WriteString(benchkit.Table(r.targets))
	return b.String()
}

// target adds a p99-against-the-target row.
func (r *report) target(what string, sm summary, ok bool) {
	r.targets = append(r.targets, []string{what, fmtMs(sm.P99), fmt.Sprintf("<= %d ms", target.Milliseconds()), benchkit.PassMiss(ok && sm.P99 <= target)})
}

// errText is an error's last part, without the addresses that differ
// from start to start ("dial tcp 11.0.0.3:80: connect: network is
// unreachable" gives "connect: network is unreachable").
func errText(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "dial ") {
		return msg[i+2:]
	}
	return msg
}

// unreachable is errText of a connect that the node answered with ICMP
// network unreachable.
const unreachable = "connect: network is unreachable"

// human renders a duration for prose: "1 s", "100 ms".
func human(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%d s", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	}
	return d.String()
}
