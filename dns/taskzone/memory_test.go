package taskzone

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/dcnet/dcnet/cluster"
)

// BenchmarkZoneMemory reports the heap a zone of 100,000 task names (one
// address each) keeps, per name, after the mirror's read is dropped:
//
//	go test -run X -bench ZoneMemory -benchmem ./dns/taskzone/
func BenchmarkZoneMemory(b *testing.B) {
	const names = 100_000
	kvs := make([]cluster.Change, names)
	for i := range kvs {
		kvs[i] = cluster.Change{Key: fmt.Sprintf("%sapp-%06d.marathon.autoip.dcos.thisdcos.directory.", cluster.TaskNamesPrefix, i),
			Value: fmt.Appendf(nil, `["9.%d.%d.%d"]`, i>>16, (i>>8)&0xff, i&0xff)}
	}
	var keep *Zone
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		z := New(nil)
		z.Reset(kvs)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/names, "heap-B/name")
		keep = z
	}
	if keep.Len() != names {
		b.Fatalf("%d names", keep.Len())
	}
}
