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

// perfResult is dnsperf's summary of one run, with how busy each side was.
type perfResult struct {
	Sent, Completed, Lost int
	QPS                   float64
	AvgLatency            time.Duration
	MaxLatency            time.Duration
	// NonNoerror counts responses with another rcode than NOERROR.
	NonNoerror int
	// ServerCPU and ClientCPU are the server's and dnsperf's CPU time
	// (user + system of their own processes) during the run, Wall its
	// length: their shares of a CPU say which side limited it.
	ServerCPU, ClientCPU, Wall time.Duration
}

// ServerShare and ClientShare are the server's and dnsperf's CPU time as a
// share of the run, in % of one CPU.
func (r perfResult) ServerShare() float64 { return share(r.ServerCPU, r.Wall) }

// ClientShare is dnsperf's CPU share, in % of one CPU.
func (r perfResult) ClientShare() float64 { return share(r.ClientCPU, r.Wall) }

func share(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * float64(cpu) / float64(wall)
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

// perfRun is one dnsperf run's output and cost.
type perfRun struct {
	Out string
	// CPU is dnsperf's own CPU time (user + system), Wall the run's length.
	CPU, Wall time.Duration
}

// dnsperf runs dnsperf in client against server for d with the query file,
// plus extra flags, and returns its output and its CPU time (`ip netns
// exec` and taskset exec dnsperf, so the child's rusage is dnsperf's).
func dnsperf(ctx context.Context, client netsim.Namespace, server, queries string, d time.Duration, extra ...string) (perfRun, error) {
	ctx, cancel := context.WithTimeout(ctx, d+perfSlack)
	defer cancel()
	argv := append(slices.Clone(clientCPU), "dnsperf", "-s", server, "-d", queries, "-l", strconv.Itoa(int(d.Seconds())),
		"-c", strconv.Itoa(perfClients), "-q", strconv.Itoa(perfOutstanding), "-t", strconv.Itoa(perfTimeout))
	argv = append(argv, extra...)
	cmd := client.Exec(ctx, argv...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	r := perfRun{Out: string(out), Wall: time.Since(t0)}
	if err != nil {
		return r, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, tail(r.Out, 5))
	}
	if ps := cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
	}
	return r, nil
}

// throughput runs dnsperf flat out against s and parses its summary, with
// both sides' CPU time, which say which side limited the run.
func throughput(ctx context.Context, client netsim.Namespace, s *server, queries string, d time.Duration) (perfResult, error) {
	cpu0, err := readCPU(s.Proc.PID())
	if err != nil {
		return perfResult{}, err
	}
	run, err := dnsperf(ctx, client, s.Addr, queries, d)
	if err != nil {
		return perfResult{}, err
	}
	cpu1, err := readCPU(s.Proc.PID())
	if err != nil {
		return perfResult{}, err
	}
	r, err := parseDNSPerf(run.Out)
	if err != nil {
		return r, fmt.Errorf("%w:\n%s", err, run.Out)
	}
	r.ServerCPU, r.ClientCPU, r.Wall = cpu1-cpu0, run.CPU, run.Wall
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
	// MaxClientShare is dnsperf's highest CPU share of a run (% of one
	// CPU): below clientLimit, the server set the pace.
	MaxClientShare float64
	// MinSustained is the lowest share of the asked rate a run answered.
	MinSustained float64
	lat          []time.Duration
}

// CPUPerAnswer is the server's CPU time per answer of the runs.
func (l latencyRun) CPUPerAnswer() time.Duration {
	if l.Answers == 0 {
		return 0
	}
	return l.CPU / time.Duration(l.Answers)
}

// add runs dnsperf against s at l.Rate queries/s for d with per-query
// output (dnsperf 2.10 prints no percentiles) and pools the answers'
// latencies, the server's CPU time and dnsperf's share into l.
func (l *latencyRun) add(ctx context.Context, client netsim.Namespace, s *server, queries string, d time.Duration) error {
	cpu0, err := readCPU(s.Proc.PID())
	if err != nil {
		return err
	}
	run, err := dnsperf(ctx, client, s.Addr, queries, d, "-Q", strconv.Itoa(l.Rate), "-v")
	if err != nil {
		return err
	}
	cpu1, err := readCPU(s.Proc.PID())
	if err != nil {
		return err
	}
	sum, err := parseDNSPerf(run.Out)
	if err != nil {
		return fmt.Errorf("%w:\n%s", err, tail(run.Out, 20))
	}
	lat, bad := parseVerbose(run.Out)
	if len(lat) == 0 {
		return fmt.Errorf("dnsperf -v printed no answers:\n%s", tail(run.Out, 20))
	}
	sustained := float64(len(lat)) / (float64(l.Rate) * d.Seconds())
	if l.Runs == 0 || sustained < l.MinSustained {
		l.MinSustained = sustained
	}
	l.MaxClientShare = max(l.MaxClientShare, share(run.CPU, run.Wall))
	l.lat = append(l.lat, lat...)
	l.Runs++
	l.Answers += len(lat)
	l.Lost += sum.Lost
	l.NonNoerror += bad
	l.CPU += cpu1 - cpu0
	l.P50, l.P99 = benchkit.NearestRank(l.lat, 50), benchkit.NearestRank(l.lat, 99)
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
