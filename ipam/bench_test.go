package ipam

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkAllocateRelease allocates and releases one dual-stack attachment
// per iteration, one caller at a time: two fsynced transactions each.
func BenchmarkAllocateRelease(b *testing.B) {
	s := openTest(b, false)
	p := pool("dcos", "9.0.0.0/16", testSubnet6)
	i := 0
	for b.Loop() {
		r := req("dcos", fmt.Sprint("c", i))
		i++
		if _, _, err := s.Allocate(p, r); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Release(r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllocateReleaseParallel is BenchmarkAllocateRelease with many
// concurrent callers, where group commit shares each fsync among them.
func BenchmarkAllocateReleaseParallel(b *testing.B) {
	s := openTest(b, false)
	p := pool("dcos", "9.0.0.0/16", testSubnet6)
	var next atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := req("dcos", fmt.Sprint("c", next.Add(1)))
			if _, _, err := s.Allocate(p, r); err != nil {
				b.Error(err)
				return
			}
			if _, _, err := s.Release(r.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(s.batches.Load())/float64(b.N), "txn/op")
}
