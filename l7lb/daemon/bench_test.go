package daemon

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/marathontest"
	"github.com/dcnet/dcnet/l7lb/build"
	"github.com/dcnet/dcnet/l7lb/model"
)

// BenchmarkPropagation1000 measures, with 1,000 apps in a fake Marathon,
// the time from a scale-up in Marathon to the applier holding a Config
// with the new server: the event over SSE, the source's update, the
// debounce and the build. One op is one scale change; p50 and p99 are
// reported.
func BenchmarkPropagation1000(b *testing.B) {
	const apps = 1000
	m := marathontest.ForTest(b)
	for i := range apps {
		m.PutApp(marathontest.AppSpec{ID: fmt.Sprintf("/app-%04d", i), ServicePorts: []int{10000 + i}, Instances: 2,
			Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": fmt.Sprintf("app-%04d.example.com", i)}})
	}
	servers := make(chan int, 1024)
	fa := &FakeApplier{OnApply: func(c model.Config) {
		if be, ok := c.Backend("app-0007_10007"); ok {
			servers <- len(be.Servers)
		}
	}}
	o := build.DefaultMarathonLB()
	o.HTTPS = netip.AddrPort{}
	d, err := New(Options{MarathonLB: o, Marathon: marathonSource(b, m), Applier: fa, Log: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	runDaemon(b, d)
	wait := func(n int) {
		for got := range servers {
			if got == n {
				return
			}
		}
	}
	wait(2)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		n := 3 - i%2 // 3, 2, 3, 2, ...
		start := time.Now()
		m.Scale("/app-0007", n, 0)
		wait(n)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
