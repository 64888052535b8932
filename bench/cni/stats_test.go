package main

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := summarize(lat)
	want := summary{N: 100, Median: 50 * time.Millisecond, P99: 99 * time.Millisecond, Mean: 50500 * time.Microsecond}
	if got != want {
		t.Errorf("summarize(1..100 ms) = %+v, want %+v", got, want)
	}
	if lat[0] != 100*time.Millisecond {
		t.Errorf("summarize sorted its input in place")
	}
	if got := summarize(nil); got != (summary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
	one := summarize([]time.Duration{7})
	if one.Median != 7 || one.P99 != 7 || one.Mean != 7 {
		t.Errorf("summarize(one sample) = %+v", one)
	}
}

func TestTargetMet(t *testing.T) {
	for _, tc := range []struct {
		ratio, limit float64
		want         bool
	}{
		{0.9, 1, true}, {1, 1, true}, {1.01, 1, false}, {ratio(1, 0), 1, false},
	} {
		if got := (target{Ratio: tc.ratio, Limit: tc.limit}).Met(); got != tc.want {
			t.Errorf("target{ratio %v, limit %v}.Met() = %v, want %v", tc.ratio, tc.limit, got, tc.want)
		}
	}
}
