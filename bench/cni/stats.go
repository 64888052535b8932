package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// summary describes a set of latencies.
type summary struct {
	N      int
	Median time.Duration
	P99    time.Duration
	Mean   time.Duration
}

// summarize computes the summary; percentiles interpolate linearly between
// the two nearest samples. An empty set gives a zero summary.
func summarize(lat []time.Duration) summary {
	if len(lat) == 0 {
		return summary{}
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return summary{
		N:      len(s),
		Median: quantile(s, 0.5),
		P99:    quantile(s, 0.99),
		Mean:   sum / time.Duration(len(s)),
	}
}

// quantile returns the q-quantile of sorted, interpolating between the
// samples at ranks floor and ceil of q*(n-1).
func quantile(sorted []time.Duration, q float64) time.Duration {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return sorted[lo] + time.Duration(frac*float64(sorted[hi]-sorted[lo]))
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
