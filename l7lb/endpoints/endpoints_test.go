package endpoints

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/internal/eventually"
)

func put(t *testing.T, s *cluster.Store, key string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Client.Put(ctx, key, string(b)); err != nil {
		t.Fatal(err)
	}
}

func vipLines(s *Source) string {
	var out []string
	for _, b := range s.VIPs() {
		out = append(out, fmt.Sprintf("%s -> %s", b.VIP.Key(), b.Backend.AddrPort()))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestSource: endpoint records and Mesos backend records are read and
// watched; with etcd gone the last view stays, the failure is counted
// and LastSync stops.
func TestSource(t *testing.T) {
	store, stop := etcdtest.StoreStoppable(t)
	put(t, store, cluster.EndpointKey("a1", "dcos", "c1", "eth0"), cluster.Endpoint{Network: "dcos", ContainerID: "c1", IfName: "eth0",
		IPs: []cluster.EndpointIP{{Address: "9.0.1.2/24"}}, Labels: map[string]string{"VIP_0": "/web:80", "app": "web"}, Node: "a1"})
	put(t, store, cluster.NodeMesosBackendsPrefix("a2")+"web.1", cluster.MesosBackends{Task: "web.1", Backends: []cluster.MesosBackend{
		{Protocol: "tcp", Name: "/web", Framework: "marathon", VIPPort: 80, IP: netip.MustParseAddr("198.18.0.2"), Port: 31000, Healthy: true}}})
	src := New(store, 200*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually.True(t, 5*time.Second, "synced", src.Synced)
	if eps := src.Endpoints(); len(eps) != 1 || eps[0].Labels["app"] != "web" {
		t.Fatalf("endpoints %+v", eps)
	}
	want := "tcp://web.marathon.l4lb.thisdcos.directory:80 -> 198.18.0.2:31000\ntcp://web.marathon.l4lb.thisdcos.directory:80 -> 9.0.1.2:80"
	if got := vipLines(src); got != want {
		t.Errorf("vips:\n%s\nwant:\n%s", got, want)
	}
	put(t, store, cluster.EndpointKey("a1", "dcos", "c2", "eth0"), cluster.Endpoint{Network: "dcos", ContainerID: "c2", IfName: "eth0",
		IPs: []cluster.EndpointIP{{Address: "9.0.1.3/24"}}, Labels: map[string]string{"app": "web"}, Node: "a1"})
	eventually.True(t, 5*time.Second, "watched change", func() bool { return len(src.Endpoints()) == 2 })
	put(t, store, cluster.EndpointKey("a1", "dcos", "c3", "eth0"), "not an endpoint")
	time.Sleep(300 * time.Millisecond)
	if n := len(src.Endpoints()); n != 2 {
		t.Errorf("a garbled record counted: %d endpoints", n)
	}
	eventually.True(t, 5*time.Second, "resync advances LastSync", func() bool { return time.Since(src.Status().LastSync) < 300*time.Millisecond })

	stop()
	eventually.True(t, 10*time.Second, "failure counted", func() bool { return src.Errors()["etcd_endpoints"] > 0 })
	if n := len(src.Endpoints()); n != 2 {
		t.Errorf("last view lost: %d endpoints", n)
	}
	stale := src.Status().LastSync
	time.Sleep(500 * time.Millisecond)
	if !src.Status().LastSync.Equal(stale) {
		t.Error("LastSync advanced with etcd down")
	}
}
