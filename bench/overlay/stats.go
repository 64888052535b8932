package main

import (
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
