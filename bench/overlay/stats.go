package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// summary describes a set of durations.
type summary struct {
	N             int
	P50, P99, Max time.Duration
}

// summarize computes nearest-rank percentiles (benchkit.NearestRank). An
// empty set gives zeros.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	return summary{N: len(ds), P50: benchkit.Median(ds), P99: benchkit.NearestRank(ds, 99), Max: slices.Max(ds)}
}

// fmtMs renders a duration in milliseconds.
func fmtMs(d time.Duration) string {
	v := ms(d)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// passMiss renders whether a target was met.
func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
