package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// summary describes a set of durations.
type summary struct {
	N             int
	P50, P99, Max time.Duration
}

// summarize computes nearest-rank percentiles: the p-th percentile is the
// smallest sample with at least p% of the samples at or below it, so with
// fewer than 100 samples p99 is the maximum. An empty set gives zeros.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return summary{N: len(s), P50: benchkit.NearestRank(s, 50), P99: benchkit.NearestRank(s, 99), Max: s[len(s)-1]}
}

// median of float samples (mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
