package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// Targets from the issue, as limits on dcnet/reference.
const (
	addMedianLimit  = 1.00
	addConcP99Limit = 1.50
)

// target is one goal with its measured ratio.
type target struct {
	What         string
	Dcnet, Ref   time.Duration
	Ratio, Limit float64
}

// Met reports whether the ratio is within the limit.
func (t target) Met() bool { return !math.IsNaN(t.Ratio) && t.Ratio <= t.Limit }

// report renders the results.
type report struct {
	opts    options
	res     *results
	header  string // benchkit's: when, where, the command, the load
	targets []target
}

func newReport(o options, res *results, e *benchkit.Env) *report {
	r := &report{opts: o, res: res, header: e.Header(o.Command)}
	seq, conc := res.Workloads[0], res.Workloads[1]
	addSeq := r.pair(seq, opAdd)
	addConc := r.pair(conc, opAdd)
	r.targets = []target{
		{What: "ADD median, " + seq.Label, Dcnet: addSeq[0].Median, Ref: addSeq[1].Median, Limit: addMedianLimit},
		{What: "ADD median, " + conc.Label, Dcnet: addConc[0].Median, Ref: addConc[1].Median, Limit: addMedianLimit},
		{What: "ADD p99, " + conc.Label, Dcnet: addConc[0].P99, Ref: addConc[1].P99, Limit: addConcP99Limit},
	}
	for i := range r.targets {
		r.targets[i].Ratio = ratio(r.targets[i].Dcnet, r.targets[i].Ref)
	}
	return r
}

// pair returns the summaries of dcnet and the reference for op in wl.
func (r *report) pair(wl workload, op string) [2]summary {
	var out [2]summary
	for i, p := range r.res.Plugins {
		if s := r.res.Series[seriesKey{Plugin: p.Name, Workload: wl.Key, Op: op}]; s != nil {
			out[i] = summarize(s.Lat)
		}
	}
	return out
}

// Missed reports whether any target was missed.
func (r *report) Missed() bool {
	for _, t := range r.targets {
		if !t.Met() {
			return true
		}
	}
	return false
}

// Text is what the bench prints: the section body.
func (r *report) Text() string { return r.body() }

// Markdown is the section of docs/benchmarks.md.
func (r *report) Markdown() string { return "## " + sectionTitle + "\n\n" + r.body() }

func (r *report) body() string {
	var b strings.Builder
	b.WriteString(r.header)
	fmt.Fprintf(&b, "Per plugin and round: %d containers ADDed one at a time then DELed one at a time (sequential), "+
		"and %d containers ADDed then DELed with %d invocations in flight (concurrent); %s after one discarded "+
		"warm-up round, the plugins alternating which goes first. Both are exec'd the way a runtime does it "+
		"(libcni `invoke.ExecPluginWithResult`/`ExecPluginWithoutResult`: CNI_* environment, config on stdin) from "+
		"a goroutine whose OS thread is locked into the node netns, so each sample runs from exec to parsed result "+
		"and both plugins pay the same overhead. The binaries are copied from `bin/` to `<tmp>` "+
		"first; CNI_PATH of dcnet is a directory holding only dcnet, of the reference one holding bridge and "+
		"host-local. Configs:\n\n", r.opts.Seq, r.opts.Conc, r.opts.Workers, plural(r.opts.Rounds, "measured round"))
	for _, p := range r.res.Plugins {
		fmt.Fprintf(&b, "- %s: `%s`\n", p.Name, strings.ReplaceAll(string(p.Conf), r.res.Tmp, "<tmp>"))
	}
	b.WriteString("\n")
	b.WriteString("What ADD gives the container (checked before timing):\n\n")
	for _, p := range r.res.Plugins {
		fmt.Fprintf(&b, "- %s: %s\n", p.Name, r.res.Shapes[p.Name])
	}
	b.WriteString("\n")
	b.WriteString(r.latencyTable())
	b.WriteString("\n")
	b.WriteString(r.throughput())
	b.WriteString(r.drift())
	b.WriteString("\n")
	b.WriteString(r.targetTable())
	b.WriteString("\n")
	b.WriteString(r.breakdownText())
	return b.String()
}

// latencyTable has one row per op, workload and statistic.
func (r *report) latencyTable() string {
	rows := [][]string{{"op", "workload", "stat", "dcnet", "reference", "dcnet/ref"}}
	for _, op := range []string{opAdd, opDel} {
		for _, wl := range r.res.Workloads {
			s := r.pair(wl, op)
			for _, st := range []struct {
				name string
				get  func(summary) time.Duration
			}{
				{"median", func(s summary) time.Duration { return s.Median }},
				{"p99", func(s summary) time.Duration { return s.P99 }},
				{"mean", func(s summary) time.Duration { return s.Mean }},
			} {
				d, ref := st.get(s[0]), st.get(s[1])
				rows = append(rows, []string{op, fmt.Sprintf("%s (n=%d)", wl.Label, s[0].N), st.name, ms(d), ms(ref), fmt.Sprintf("%.2f", ratio(d, ref))})
			}
		}
	}
	return benchkit.Table(rows)
}

// throughput gives the operations per second of each phase.
func (r *report) throughput() string {
	var b strings.Builder
	b.WriteString("Throughput (operations per second of wall time):")
	for _, wl := range r.res.Workloads {
		for _, op := range []string{opAdd, opDel} {
			var parts []string
			for _, p := range r.res.Plugins {
				if s := r.res.Series[seriesKey{Plugin: p.Name, Workload: wl.Key, Op: op}]; s != nil {
					parts = append(parts, fmt.Sprintf("%s %.0f", p.Name, opsPerSecond(len(s.Lat), s.Wall)))
				}
			}
			fmt.Fprintf(&b, " %s %s: %s;", op, wl.Label, strings.Join(parts, ", "))
		}
	}
	return strings.TrimSuffix(b.String(), ";") + ".\n"
}

// drift lists the ADD median of each measured round.
func (r *report) drift() string {
	var b strings.Builder
	b.WriteString("ADD median per measured round:")
	for _, wl := range r.res.Workloads {
		var parts []string
		for _, p := range r.res.Plugins {
			if s := r.res.Series[seriesKey{Plugin: p.Name, Workload: wl.Key, Op: opAdd}]; s != nil {
				var ds []string
				for _, d := range s.RoundMedians {
					ds = append(ds, fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)))
				}
				parts = append(parts, p.Name+" "+strings.Join(ds, " "))
			}
		}
		fmt.Fprintf(&b, " %s: %s ms;", wl.Label, strings.Join(parts, ", "))
	}
	return strings.TrimSuffix(b.String(), ";") + ".\n"
}

// plural renders n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// targetTable lists the targets with PASS or MISS.
func (r *report) targetTable() string {
	rows := [][]string{{"target", "dcnet", "reference", "dcnet/ref", "limit", "result"}}
	for _, t := range r.targets {
		rows = append(rows, []string{t.What, ms(t.Dcnet), ms(t.Ref), fmt.Sprintf("%.2f", t.Ratio), fmt.Sprintf("<= %.2f", t.Limit), benchkit.PassMiss(t.Met())})
	}
	return benchkit.Table(rows)
}

// breakdownText shows the parts timed alone, splits the sequential
// medians into them, and adds a hint when a target was missed.
func (r *report) breakdownText() string {
	bd := r.res.Breakdown
	seqWl, concWl := r.res.Workloads[0], r.res.Workloads[1]
	add, del := r.pair(seqWl, opAdd), r.pair(seqWl, opDel)
	var b strings.Builder
	fmt.Fprintf(&b, "Parts timed alone from the node netns (start = a VERSION call: exec, Go runtime start, skel; "+
		"overlayd's API called from the bench as the plugin calls it, metrics being off; host-local run alone as "+
		"bridge delegates to it; veth = a bare veth pair by netlink from the bench, no exec):\n\n")
	conc := fmt.Sprintf("%d concurrent", bd.Workers)
	rows := [][]string{{"part", fmt.Sprintf("sequential median (n=%d)", breakdownSamples), conc + " median", conc + " p99"}}
	for _, part := range []string{partStartDcnet, partStartRef, partAllocate, partRelease, partHostAdd, partHostDel, partVethAdd, partVethDel} {
		row := []string{part, ms(bd.Seq[part].Median), "-", "-"}
		if c, ok := bd.Conc[part]; ok {
			row[2], row[3] = ms(c.Median), ms(c.P99)
		}
		rows = append(rows, row)
	}
	b.WriteString(benchkit.Table(rows))
	b.WriteString("\nSequential medians split into those parts (rest = the plugin's other netns/netlink work, config " +
		"parsing and result writing):\n\n")
	line := func(name, op string, total time.Duration, parts ...string) {
		fmt.Fprintf(&b, "- %s %s %s =", name, op, ms(total))
		rest := total
		for _, part := range parts {
			fmt.Fprintf(&b, " %s %s +", part, ms(bd.Seq[part].Median))
			rest -= bd.Seq[part].Median
		}
		fmt.Fprintf(&b, " rest %s\n", ms(rest))
	}
	line("dcnet", opAdd, add[0].Median, partStartDcnet, partAllocate, partVethAdd)
	line("ref", opAdd, add[1].Median, partStartRef, partHostAdd, partVethAdd)
	line("dcnet", opDel, del[0].Median, partStartDcnet, partRelease, partVethDel)
	line("ref", opDel, del[1].Median, partStartRef, partHostDel, partVethDel)
	if r.Missed() {
		addConc := r.pair(concWl, opAdd)
		fmt.Fprintf(&b, "\nhint: dcnet missed a target. Sequential ADD median %s: overlayd Allocate %s (%.0f%%), start %s, "+
			"rest %s. %s ADD p99 %s (reference %s): overlayd Allocate p99 %s, dcnet start p99 %s (bridge %s).\n",
			ms(add[0].Median), ms(bd.Seq[partAllocate].Median), 100*ratio(bd.Seq[partAllocate].Median, add[0].Median),
			ms(bd.Seq[partStartDcnet].Median), ms(add[0].Median-bd.Seq[partStartDcnet].Median-bd.Seq[partAllocate].Median),
			concWl.Label, ms(addConc[0].P99), ms(addConc[1].P99), ms(bd.Conc[partAllocate].P99),
			ms(bd.Conc[partStartDcnet].P99), ms(bd.Conc[partStartRef].P99))
	}
	return b.String()
}
