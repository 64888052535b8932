package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/dns/mesos"
)

// dnsperfOutput is dnsperf 2.10.0's output of a 2 s run.
const dnsperfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 198.18.9.1 -d /tmp/ubtry/q -l 2
[Status] Sending queries (to 198.18.9.1:53)
[Status] Started at: Sat Nov 28 19:09:38 2026
[Status] Stopping after 2.000000 seconds
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         229042
  Queries completed:    229042 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 152695 (66.67%), NXDOMAIN 76347 (33.33%)
  Average packet size:  request 25, response 36
  Run time (s):         2.004498
  Queries per second:   114264.020219

  Average Latency (s):  0.000448 (min 0.000019, max 0.006594)
  Latency StdDev (s):   0.000444
`

func TestParseDNSPerf(t *testing.T) {
	got, err := parseDNSPerf(dnsperfOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := perfResult{Sent: 229042, Completed: 229042, QPS: 114264.020219, AvgLatency: 448 * time.Microsecond,
		MaxLatency: 6594 * time.Microsecond, NonNoerror: 76347}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parseDNSPerf (-want +got):\n%s", d)
	}
	if _, err := parseDNSPerf("[Status] Command line: dnsperf\nError: could not open file\n"); err == nil {
		t.Error("parseDNSPerf of output without statistics: want an error")
	}
}

func TestParseVerbose(t *testing.T) {
	out := "[Status] Sending queries\n> NOERROR a.test A 0.000165\n> NXDOMAIN nope.example A 0.000200\n> T a.test A\n" + dnsperfOutput
	lat, bad := parseVerbose(out)
	if d := cmp.Diff([]time.Duration{165 * time.Microsecond, 200 * time.Microsecond}, lat); d != "" || bad != 1 {
		t.Errorf("parseVerbose: %d not NOERROR (want 1), latencies (-want +got):\n%s", bad, d)
	}
}

// TestWriteData: the state parses back with every task running, and the
// zone file holds the same A records as the task names dcnet-dns serves.
func TestWriteData(t *testing.T) {
	const tasks = 1500
	d, err := writeData(t.TempDir(), tasks, 20, 50)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(d.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := mesos.ParseState(f)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Frameworks[0].Tasks); n != tasks || !st.Frameworks[0].Tasks[tasks-1].Running() {
		t.Errorf("state has %d tasks (want %d), last running: %v", n, tasks, st.Frameworks[0].Tasks[tasks-1].Running())
	}
	if d.TaskRecords != 3*tasks {
		t.Errorf("%d task records, want %d (agentip, containerip, autoip per task)", d.TaskRecords, 3*tasks)
	}
	zone := lines(t, d.ZoneFile)
	a := 0
	sample := false
	for _, l := range zone {
		f := strings.Fields(l)
		if len(f) == 5 && f[3] == "A" {
			a++
			sample = sample || f[0] == d.SampleName+"." && f[4] == d.SampleIP
		}
	}
	if a != d.TaskRecords || !sample {
		t.Errorf("zone file: %d A records (want %d), sample %s -> %s present: %v", a, d.TaskRecords, d.SampleName, d.SampleIP, sample)
	}
	if v := lines(t, d.VIPZoneFile); len(v) != 3+20 || v[3] != "vip-000000.marathon.l4lb.thisdcos.directory. 5 IN A 11.0.0.1" {
		t.Errorf("vip zone file: %d lines, first record %q", len(v), v[3])
	}
	if d.Records() != 3*tasks+20 || d.TaskNames != 3*tasks {
		t.Errorf("records %d, task names %d; want %d and %d", d.Records(), d.TaskNames, 3*tasks+20, 3*tasks)
	}
	if q := lines(t, d.ClusterQueries); len(q) != 50 || !strings.HasSuffix(q[0], ".autoip.dcos.thisdcos.directory. A") {
		t.Errorf("cluster queries: %d lines, first %q", len(q), q[0])
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
