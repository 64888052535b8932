package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// dnsperf settings shared by every run against either server.
const (
	perfClients     = 4   // -c: sockets
	perfOutstanding = 100 // -q: queries in flight
	perfTimeout     = 2   // -t: seconds before a query counts as lost
	// perfSlack bounds a dnsperf run beyond its -l time limit.
	perfSlack = 30 * time.Second
)

// perfResult is dnsperf's summary of one run.
type perfResult struct {
	Sent, Completed, Lost int
	QPS                   float64
	AvgLatency            time.Duration
	MaxLatency            time.Duration
	// NonNoerror counts responses with another rcode than NOERROR.
	NonNoerror int
	// BusyServer and BusyClient are how busy the servers' CPU and
	// dnsperf's CPU were during the run (/proc/stat, %); -1 unpinned.
	BusyServer, BusyClient float64
}

var (
	perfSentRE    = regexp.MustCompile(`Queries sent:\s+(\d+)`)
	perfDoneRE    = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	perfLostRE    = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	perfQPSRE     = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	perfLatencyRE = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+) \(min [0-9.]+, max ([0-9.]+)\)`)
	perfRcodesRE  = regexp.MustCompile(`Response codes:\s+(.*)`)
	perfRcodeRE   = regexp.MustCompile(`([A-Z]+) (\d+) \(`)
)

// parseDNSPerf reads the statistics dnsperf prints at the end of a run.
func parseDNSPerf(out string) (perfResult, error) {
	var r perfResult
	find := func(re *regexp.Regexp) ([]string, error) {
		m := re.FindStringSubmatch(out)
		if m == nil {
			return nil, fmt.Errorf("dnsperf output has no %q", re)
		}
		return m, nil
	}
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *int
	}{{perfSentRE, &r.Sent}, {perfDoneRE, &r.Completed}, {perfLostRE, &r.Lost}} {
		m, err := find(f.re)
		if err != nil {
			return r, err
		}
		*f.dst, _ = strconv.Atoi(m[1])
	}
	m, err := find(perfQPSRE)
	if err != nil {
		return r, err
	}
	r.QPS, _ = strconv.ParseFloat(m[1], 64)
	if m, err = find(perfLatencyRE); err != nil {
		return r, err
	}
	r.AvgLatency, r.MaxLatency = seconds(m[1]), seconds(m[2])
	if m := perfRcodesRE.FindStringSubmatch(out); m != nil {
		for _, rc := range perfRcodeRE.FindAllStringSubmatch(m[1], -1) {
			if rc[1] != "NOERROR" {
				n, _ := strconv.Atoi(rc[2])
				r.NonNoerror += n
			}
		}
	}
	return r, nil
}

// seconds parses dnsperf's decimal seconds.
func seconds(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(math.Round(f * float64(time.Second)))
}

// parseVerbose reads the per-query lines of `dnsperf -v`,
// "> NOERROR name type 0.000165", and returns the latencies and how many
// answers had another rcode than NOERROR.
func parseVerbose(out string) (lat []time.Duration, nonNoerror int) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || f[0] != ">" {
			continue
		}
		if f[1] != "NOERROR" {
			nonNoerror++
		}
		lat = append(lat, seconds(f[4]))
	}
	return lat, nonNoerror
}

// dnsperf runs dnsperf in client against server for d with the query file,
// plus extra flags, and returns its output.
func dnsperf(ctx context.Context, client netsim.Namespace, server, queries string, d time.Duration, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d+perfSlack)
	defer cancel()
	argv := append(slices.Clone(clientCPU), "dnsperf", "-s", server, "-d", queries, "-l", strconv.Itoa(int(d.Seconds())),
		"-c", strconv.Itoa(perfClients), "-q", strconv.Itoa(perfOutstanding), "-t", strconv.Itoa(perfTimeout))
	argv = append(argv, extra...)
	return client.Run(ctx, argv...)
}

// throughput runs dnsperf flat out and parses its summary; when pinned
// it also reads how busy the server's and dnsperf's CPUs were, which says
// which side limited the run.
func throughput(ctx context.Context, client netsim.Namespace, server, queries string, d time.Duration) (perfResult, error) {
	var before map[int]benchkit.CPUTimes
	if clientCPU != nil {
		before, _ = benchkit.ReadCPUTimes(serverCPUIndex, clientCPUIndex)
	}
	out, err := dnsperf(ctx, client, server, queries, d)
	if err != nil {
		return perfResult{}, err
	}
	r, err := parseDNSPerf(out)
	if err != nil {
		return r, fmt.Errorf("%w:\n%s", err, out)
	}
	r.BusyServer, r.BusyClient = -1, -1
	if after, aerr := benchkit.ReadCPUTimes(serverCPUIndex, clientCPUIndex); before != nil && aerr == nil {
		r.BusyServer = benchkit.BusyPct(before[serverCPUIndex], after[serverCPUIndex])
		r.BusyClient = benchkit.BusyPct(before[clientCPUIndex], after[clientCPUIndex])
	}
	return r, nil
}

// latencyRun is the per-query latency of the runs of one server at a fixed
// rate, pooled.
type latencyRun struct {
	Rate       int
	Runs       int
	Answers    int
	Lost       int
	NonNoerror int
	P50, P99   time.Duration
	// CPU is the server's CPU time (user + system) during the runs.
	CPU time.Duration
	lat []time.Duration
}

// CPUPerAnswer is the server's CPU time per answer of the runs.
func (l latencyRun) CPUPerAnswer() time.Duration {
	if l.Answers == 0 {
		return 0
	}
	return l.CPU / time.Duration(l.Answers)
}

// add runs dnsperf at l.Rate queries/s with per-query output (dnsperf 2.10
// prints no percentiles) and pools the answers' latencies into l.
func (l *latencyRun) add(ctx context.Context, client netsim.Namespace, server, queries string, d time.Duration) error {
	out, err := dnsperf(ctx, client, server, queries, d, "-Q", strconv.Itoa(l.Rate), "-v")
	if err != nil {
		return err
	}
	sum, err := parseDNSPerf(out)
	if err != nil {
		return fmt.Errorf("%w:\n%s", err, tail(out, 20))
	}
	lat, bad := parseVerbose(out)
	if len(lat) == 0 {
		return fmt.Errorf("dnsperf -v printed no answers:\n%s", tail(out, 20))
	}
	l.lat = append(l.lat, lat...)
	l.Runs++
	l.Answers += len(lat)
	l.Lost += sum.Lost
	l.NonNoerror += bad
	l.P50, l.P99 = benchkit.NearestRank(l.lat, 50), benchkit.NearestRank(l.lat, 99)
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
