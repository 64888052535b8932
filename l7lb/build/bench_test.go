package build

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/dcnet/dcnet/l7lb/marathon"
)

// apps returns n Marathon apps with a vhost each and three tasks.
func benchApps(n int) []marathon.App {
	apps := make([]marathon.App, n)
	for i := range apps {
		a := marathon.App{ID: fmt.Sprintf("/app-%04d", i),
			Labels:          map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": fmt.Sprintf("app-%04d.example.com", i)},
			PortDefinitions: []marathon.PortDefinition{{Port: 10000 + i}}}
		for j := range 3 {
			host := netip.AddrFrom4([4]byte{10, 0, byte(j), byte(i % 250)})
			a.Tasks = append(a.Tasks, marathon.Task{ID: fmt.Sprintf("app-%04d.%d", i, j), Host: host.String(), HostIP: host,
				Ports: []int{31000 + i}, State: "TASK_RUNNING"})
		}
		apps[i] = a
	}
	return apps
}

// BenchmarkBuildMarathonLB1000: one build of 1,000 apps (3,000 servers,
// 1,000 vhost routes).
func BenchmarkBuildMarathonLB1000(b *testing.B) {
	in := Inputs{Apps: benchApps(1000)}
	o := DefaultMarathonLB()
	o.HTTPS = netip.AddrPort{}
	b.ReportAllocs()
	for b.Loop() {
		out := BuildMarathonLB(in, o)
		if len(out.Config.Backends) != 1000 {
			b.Fatalf("%d backends", len(out.Config.Backends))
		}
	}
}
