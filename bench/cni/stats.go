package main

import (
	"fmt"
	"math"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// summary describes a set of latencies.
type summary struct {
	N      int
	Median time.Duration
	P99    time.Duration
	Mean   time.Duration
}

// summarize computes the summary, percentiles by nearest rank
// (benchkit.NearestRank, as docs/benchmarks.md defines them). An empty set
// gives a zero summary.
func summarize(lat []time.Duration) summary {
	if len(lat) == 0 {
		return summary{}
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return summary{
		N:      len(lat),
		Median: benchkit.Median(lat),
		P99:    benchkit.NearestRank(lat, 99),
		Mean:   sum / time.Duration(len(lat)),
	}
}

// ratio returns a/b, NaN when b is zero.
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// ms renders a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// opsPerSecond is the throughput of n operations in wall.
func opsPerSecond(n int, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(n) / wall.Seconds()
}
