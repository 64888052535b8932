package benchkit

import (
	"testing"
	"time"
)

func TestNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := NearestRank(ds, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := NearestRank([]time.Duration(nil), 99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}

func TestNearestRankLeavesItsInput(t *testing.T) {
	ds := []time.Duration{3, 1, 2}
	if got := NearestRank(ds, 50); got != 2 || ds[0] != 3 {
		t.Errorf("p50 %v, input now %v; want 2 and the input unchanged", got, ds)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3, 1, 2, 10}, 2}, // even count: the lower middle one
		{[]float64{3, 1, 2}, 2},
		{[]float64{7}, 7},
		{nil, 0},
	} {
		if got := Median(tc.xs); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
	if got := Median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("Median of durations = %v, want 2", got)
	}
}
