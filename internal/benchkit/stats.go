package benchkit

import (
	"cmp"
	"math"
	"slices"
)

// PercentileDefinition is how every benchmark computes a percentile, as
// the head of docs/benchmarks.md states it (Header); each section refers
// to it rather than defining its own.
const PercentileDefinition = "Percentiles are nearest-rank: the p-th percentile of n samples is the smallest sample " +
	"with at least p% of the samples at or below it (the ceil(p/100*n)-th smallest), so it is always a measured value; " +
	"the median is the 50th percentile (of an even count, the lower of the middle two), and with fewer than 100 " +
	"samples p99 is the maximum."

// NearestRank returns the p-th percentile (0 < p <= 100) of xs by the
// nearest-rank method (PercentileDefinition). xs is not changed; an
// empty xs gives the zero value.
func NearestRank[T cmp.Ordered](xs []T, p float64) T {
	if len(xs) == 0 {
		var zero T
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Median is NearestRank(xs, 50).
func Median[T cmp.Ordered](xs []T) T { return NearestRank(xs, 50) }
