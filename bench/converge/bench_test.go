package main

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil || o.N != 50 || o.Out != "docs/benchmarks.md" || o.Refresh != poll.DefaultInterval {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if o, err = parseFlags([]string{"-short"}); err != nil || o.N != 5 || o.Out != "" {
		t.Errorf("-short: %+v, %v", o, err)
	}
	if o, err = parseFlags([]string{"-short", "-n", "7", "-out", "x.md"}); err != nil || o.N != 7 || o.Out != "x.md" {
		t.Errorf("-short with -n and -out: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-n", "0"}, {"-n", "121"}, {"-refresh", "1ms"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
	if o, _ = parseFlags([]string{"-out", ""}); o.Command != "go run ./bench/converge -out ''" {
		t.Errorf("command line %q", o.Command)
	}
}

func TestSummarize(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, ms(i))
	}
	if s := summarize(ds); s.N != 100 || s.P50 != ms(50) || s.P99 != ms(99) || s.Max != ms(100) || s.Failed != 0 {
		t.Errorf("1..100 ms: %+v", s)
	}
	// With fewer than 100 samples p99 is the maximum; a failure ranks last.
	if s := summarize([]time.Duration{ms(3), failed, ms(1)}); s.P50 != ms(3) || s.P99 != failed || s.Failed != 1 {
		t.Errorf("with a failure: %+v", s)
	}
	if s := summarize(nil); s != (summary{}) {
		t.Errorf("empty: %+v", s)
	}
}

// TestMesosState: the state the bench writes gives the task names it asks
// B for, through the same parser and generator as dcnet-dns.
func TestMesosState(t *testing.T) {
	doc, err := mesosState("198.18.0.1", map[string]string{"agent-a": "198.18.0.2"},
		[]mesosTask{{Name: "task1", Agent: "agent-a", IP: "9.0.0.5"}, {Name: "task2", Agent: "agent-a", IP: "9.0.0.6"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := mesos.ParseState(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := records.TaskNames(st, records.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	got := rs.Strings(records.TypeA)
	for name, ip := range map[string]string{"task1" + taskDomain + ".": "9.0.0.5", "task2" + taskDomain + ".": "9.0.0.6"} {
		if !slices.Equal(got[name], []string{ip}) {
			t.Errorf("%s: %v, want [%s] (all: %v)", name, got[name], ip, got)
		}
	}
}

func TestErrText(t *testing.T) {
	for in, want := range map[string]string{
		"dial tcp 11.0.0.37:80: connect: network is unreachable": unreachable,
		"dial tcp 11.0.0.3:80: i/o timeout":                      "i/o timeout",
		"something else":                                         "something else",
	} {
		if got := errText(errors.New(in)); got != want {
			t.Errorf("errText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Second: "1 s", 100 * time.Millisecond: "100 ms", 1500 * time.Microsecond: "1.5ms"} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
