package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"

	"github.com/google/go-cmp/cmp"
)

func TestSummarizeNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarize(ds)
	want := summary{N: 20, P50: 10 * time.Millisecond, P99: 20 * time.Millisecond, Max: 20 * time.Millisecond}
	if got != want {
		t.Errorf("summarize(1..20 ms) = %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (summary{}) {
		t.Errorf("summarize(nil) = %+v", got)
	}
}

func TestReplaceSectionKeepsOthers(t *testing.T) {
	sec := "## " + sectionTitle + "\n\nnew\n### sub\nx\n"
	doc := "# Benchmarks\n\nintro\n\n## CNI ADD/DEL latency (bench/cni)\n\ncni\n\n## " + sectionTitle + "\n\nold\n### old sub\n"
	want := "# Benchmarks\n\nintro\n\n## CNI ADD/DEL latency (bench/cni)\n\ncni\n\n" + sec
	if diff := cmp.Diff(want, benchkit.ReplaceSection(doc, sec)); diff != "" {
		t.Errorf("replaceSection (-want +got):\n%s", diff)
	}
	// Our section before another one: the other one stays.
	doc = "# B\n\n## " + sectionTitle + "\n\nold\n\n## CNI ADD/DEL latency (bench/cni)\n\ncni\n"
	want = "# B\n\n" + sec + "\n## CNI ADD/DEL latency (bench/cni)\n\ncni\n"
	if diff := cmp.Diff(want, benchkit.ReplaceSection(doc, sec)); diff != "" {
		t.Errorf("replaceSection (-want +got):\n%s", diff)
	}
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := benchkit.Update(path, sec); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != benchkit.Header+"\n"+sec {
		t.Errorf("new file:\n%s", got)
	}
}

func TestParseIperf(t *testing.T) {
	out := `{"start":{},"end":{"sum_sent":{"bits_per_second":2.1e10,"retransmits":7},` +
		`"sum_received":{"bits_per_second":2e10},"cpu_utilization_percent":{"host_total":90.5,"remote_total":40}}}`
	r, err := parseIperf([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if r != (iperfRun{Gbps: 20, Retransmits: 7, CPUClient: 90.5, CPUServer: 40}) {
		t.Errorf("parseIperf = %+v", r)
	}
	if _, err := parseIperf([]byte(`{"error":"unable to connect to server"}`)); err == nil || !strings.Contains(err.Error(), "unable to connect") {
		t.Errorf("iperf3 error not reported: %v", err)
	}
}

// The simulated nodes never share a subnet, VTEP address or MAC, and keep
// clear of what the one real node leases (the lowest of each range).
func TestSimNodesDistinct(t *testing.T) {
	seen := map[string]string{}
	now := time.Now()
	for i := range 4000 {
		for _, moved := range []bool{false, true} {
			n := simNode(i, moved, now)
			keys := []string{n.VTEPIP, n.VTEPIP6, n.VTEPMAC, n.Subnets["dcos"][0], n.Subnets["dcos6"][0], "u" + n.UnderlayIP}
			for _, k := range keys {
				if prev, ok := seen[k]; ok && prev != n.Name {
					t.Fatalf("%s of %s also used by %s", k, n.Name, prev)
				}
				seen[k] = n.Name
			}
		}
	}
	for _, own := range []string{"44.128.0.1", "fd01:a::1", "9.0.0.0/24", "fd01:b::/80"} {
		if _, ok := seen[own]; ok {
			t.Errorf("a simulated node uses %s, which the real node leases", own)
		}
	}
	if u := netip.MustParseAddr(simNode(3999, true, now).UnderlayIP); !netip.MustParsePrefix("198.19.0.0/16").Contains(u) {
		t.Errorf("underlay %s outside 198.19.0.0/16", u)
	}
}

func TestPlanTimesOneWritePerChange(t *testing.T) {
	plan, decode, err := planTimes(200, 10, netip.MustParseAddr("198.18.0.9"))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 10 || len(decode) != 10 {
		t.Errorf("got %d and %d samples, want 10", len(plan), len(decode))
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-short"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Rounds != 1 || o.Seconds != 2 || o.Joins != 5 || o.Changes != 20 || o.Sims != 1000 || o.Out != "" || len(o.Phases) != 3 {
		t.Errorf("-short gave %+v", o)
	}
	o, err = parseFlags([]string{"-short", "-joins", "7", "-out", "x.md", "-phases", "scale"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Joins != 7 || o.Out != "x.md" || o.Phases[0] != "scale" || o.Command != "go run ./bench/overlay -short -joins 7 -out x.md -phases scale" {
		t.Errorf("explicit flags with -short gave %+v", o)
	}
	for _, bad := range [][]string{{"-sims", "0"}, {"-phases", "dns"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestCPUMask(t *testing.T) {
	for cpu, want := range map[int]string{0: "00000001", 1: "00000002", 31: "80000000", 32: "00000001,00000000", 70: "00000040,00000000,00000000"} {
		if got := cpuMask(cpu); got != want {
			t.Errorf("cpuMask(%d) = %q, want %q", cpu, got, want)
		}
	}
}
