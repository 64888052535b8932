package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// Targets (issue 17).
const (
	addVsRefLimit   = 1.00 // dcnet ADD median / best reference ADD median, no mappings
	addGrowthLimit  = 1.20 // dcnet ADD median with 1,000 mappings / with none
	connRateLimit   = 0.95 // host-port conn/s / container-IP conn/s (a floor)
	busyGeneratorPc = 90   // a generator this busy (% of one CPU per worker) may be the limit
)

// sectionHeading is this benchmark's section of docs/benchmarks.md.
const sectionHeading = "## Host ports: dcnet-portmap (bench/portmap)"

type target struct {
	What   string
	Got    float64
	Limit  float64
	Floor  bool // the ratio must be at least Limit
	Detail string
}

func (t target) Met() bool {
	if math.IsNaN(t.Got) {
		return false
	}
	if t.Floor {
		return t.Got >= t.Limit
	}
	return t.Got <= t.Limit
}

type report struct {
	o       options
	r       *results
	when    time.Time
	targets []target
}

func median(ds []time.Duration) time.Duration { return benchkit.NearestRank(ds, 50) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func newReport(o options, r *results) *report {
	rep := &report{o: o, r: r, when: time.Now().UTC()}
	best := 1
	for s := 2; s < len(r.Names); s++ {
		if median(r.Lat[0][s].Add) < median(r.Lat[0][best].Add) {
			best = s
		}
	}
	d0, d1 := median(r.Lat[0][0].Add), median(r.Lat[1][0].Add)
	var growth []string
	for s := 1; s < len(r.Names); s++ {
		growth = append(growth, fmt.Sprintf("%s %.2fx", r.Names[s], ratio(median(r.Lat[1][s].Add), median(r.Lat[0][s].Add))))
	}
	rep.targets = []target{
		{What: "ADD median, no mappings: dcnet / best reference (" + r.Names[best] + ")", Got: ratio(d0, median(r.Lat[0][best].Add)), Limit: addVsRefLimit,
			Detail: fmt.Sprintf("%v vs %v", ms(d0), ms(median(r.Lat[0][best].Add)))},
		{What: "dcnet ADD median, 1,000 mappings / none (nodes interleaved)", Got: ratio(d1, d0), Limit: addGrowthLimit,
			Detail: fmt.Sprintf("%v vs %v; reference growth: %s", ms(d1), ms(d0), strings.Join(growth, ", "))},
		{What: "new connections/s to a host port / to the container IP (median of ABBA blocks)", Got: r.Conn.Ratio, Limit: connRateLimit, Floor: true,
			Detail: fmt.Sprintf("%.0f/s vs %.0f/s over all slices", r.Conn.HostPort, r.Conn.Direct)},
	}
	return rep
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func (rep *report) tables() string {
	r := rep.r
	var b strings.Builder
	rows := [][]string{{"chain", "ADD median (0)", "ADD p99 (0)", "DEL median (0)", "ADD median (1,000)", "ADD p99 (1,000)", "DEL median (1,000)", "ADD growth"}}
	for s, name := range r.Names {
		l0, l1 := r.Lat[0][s], r.Lat[1][s]
		rows = append(rows, []string{name, ms(median(l0.Add)), ms(benchkit.NearestRank(l0.Add, 99)), ms(median(l0.Del)),
			ms(median(l1.Add)), ms(benchkit.NearestRank(l1.Add, 99)), ms(median(l1.Del)),
			fmt.Sprintf("%.2fx", ratio(median(l1.Add), median(l0.Add)))})
	}
	b.WriteString(benchkit.Table(rows))
	b.WriteString("\nKernel API alone (two host ports, no container, median of 25, both nodes in turn):\n\n")
	b.WriteString(benchkit.Table([][]string{
		{"", "ADD (0)", "DEL (0)", "ADD (1,000)", "DEL (1,000)", "ADD growth", "DEL growth"},
		{"dcnet-portmap (netlink, nftables set and map elements)", ms(r.Single[0][0]), ms(r.Single[0][1]), ms(r.Single[1][0]), ms(r.Single[1][1]),
			fmt.Sprintf("%.2fx", ratio(r.Single[1][0], r.Single[0][0])), fmt.Sprintf("%.2fx", ratio(r.Single[1][1], r.Single[0][1]))},
		{"Mesos port mapper's scripts (iptables-nft, one chain)", ms(r.Mesos[0][0]), ms(r.Mesos[0][1]), ms(r.Mesos[1][0]), ms(r.Mesos[1][1]),
			fmt.Sprintf("%.2fx", ratio(r.Mesos[1][0], r.Mesos[0][0])), fmt.Sprintf("%.2fx", ratio(r.Mesos[1][1], r.Mesos[0][1]))},
	}))
	c := r.Conn
	fmt.Fprintf(&b, "\nNew connections per second from another node, %d workers, %d slices of %v in ABBA blocks of four: "+
		"host port %s %.0f/s, container IP %s %.0f/s (%d errors); load generator CPU %.0f%%, server CPU %.0f%% of one CPU.",
		connWorkers, connSlices, connSlice, c.HostTarget, c.HostPort, c.DirectAddr, c.Direct, c.Errors, c.GenCPU, c.ServerCPU)
	if c.GenCPU >= busyGeneratorPc*connWorkers/2 {
		b.WriteString(" The load generator was busy enough to be the limit: the ratio compares two paths under the same limit.")
	}
	b.WriteString("\n")
	return b.String()
}

func (rep *report) targetLines() string {
	var b strings.Builder
	for _, t := range rep.targets {
		verdict := "PASS"
		if !t.Met() {
			verdict = "MISS"
		}
		op := "<="
		if t.Floor {
			op = ">="
		}
		fmt.Fprintf(&b, "- %s: %.3f (target %s %.2f) %s: %s\n", t.What, t.Got, op, t.Limit, verdict, t.Detail)
	}
	return b.String()
}

func (rep *report) text() string { return rep.tables() + "\n" + rep.targetLines() }

func (rep *report) section() string {
	return fmt.Sprintf("%s\n\n`%s` on %s, kernel %s, %s (shared with other work). %d containers per chain and node, each ADD then DEL "+
		"through libcni with two host ports, on nodes in turn: one with no other mappings (\"0\") and, per chain, one with 1,000 mappings of that chain (\"1,000\"), "+
		"container by container, so all see the same moments of the machine.\n\n%s\n%s",
		sectionHeading, rep.o.Command, rep.when.Format("2006-01-02"), benchkit.KernelRelease(), benchkit.CPUDescription(), rep.r.N,
		rep.tables(), rep.targetLines())
}
