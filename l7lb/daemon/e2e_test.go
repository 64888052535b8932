package daemon

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/ctl"
	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/internal/eventually"
	"github.com/dcnet/dcnet/internal/marathontest"
	"github.com/dcnet/dcnet/l7lb/endpoints"
	"github.com/dcnet/dcnet/l7lb/pools"
)

// instance is one dcnet-l7lb --pool web with its own state directory,
// as on its own node.
type instance struct {
	d      *Daemon
	fa     *FakeApplier
	api    *httptest.Server
	cancel context.CancelFunc
	done   chan error
}

func startInstance(t *testing.T, store *cluster.Store, m *marathontest.Marathon, stateDir string) *instance {
	t.Helper()
	log := quiet()
	src, err := pools.NewSource(store, "web", stateDir, 200*time.Millisecond, log)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{fa: &FakeApplier{}, done: make(chan error, 1)}
	in.d, err = New(Options{Pool: "web", PoolSource: src, PoolStore: pools.NewStore(store), Marathon: marathonSource(t, m),
		Endpoints: endpoints.New(store, 200*time.Millisecond, log), Applier: in.fa, StateDir: stateDir,
		StaleAfter: time.Second, SyncInterval: 100 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	in.api = httptest.NewServer(in.d.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- in.d.Run(ctx) }()
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	if in.cancel != nil {
		in.cancel()
		<-in.done
		in.api.Close()
		in.cancel = nil
	}
}

func (in *instance) addr() string { return strings.TrimPrefix(in.api.URL, "http://") }

const e2ePool = `
name: web
haproxy:
  frontends:
  - bindPort: 80
    protocol: HTTP
    linkBackend:
      defaultBackend: web
      map: [{hostEq: api.example.com, backend: api}]
  backends:
  - name: web
    protocol: HTTP
    services:
    - marathon: {serviceID: /web}
  - name: api
    protocol: HTTP
    services:
    - endpointLabel: {key: app, value: api}
      endpoint: {port: 8080}
`

// TestPoolEndToEnd: a pool created with dcnetctl through one instance's
// API is served by two instances (on real etcd, with a fake Marathon and
// an endpoint record); with etcd down both keep serving it and their
// health fails; an instance restarted while etcd is down serves the
// pool and configuration from its disk.
func TestPoolEndToEnd(t *testing.T) {
	store, stopEtcd := etcdtest.StoreStoppable(t)
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 2})
	put := func(key, value string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := store.Client.Put(ctx, key, value); err != nil {
			t.Fatal(err)
		}
	}
	put(cluster.EndpointKey("a4", "dcos", "c4", "eth0"),
		`{"network":"dcos","containerID":"c4","ifName":"eth0","ips":[{"address":"9.0.7.2/24"}],"labels":{"app":"api"},"node":"a4"}`)
	dir1, dir2 := t.TempDir(), t.TempDir()
	a := startInstance(t, store, m, dir1)
	b := startInstance(t, store, m, dir2)

	// Before the pool exists both serve nothing and say why.
	eventually.True(t, 5*time.Second, "a problem naming the missing pool", func() bool {
		return strings.Contains(a.fa.String(), "problem pool web: the pool does not exist")
	})

	file := filepath.Join(t.TempDir(), "web.yaml")
	os.WriteFile(file, []byte(e2ePool), 0o644)
	var out, errb bytes.Buffer
	if code := ctl.Main(context.Background(), []string{"--l7lb", a.addr(), "pools", "create", file}, &out, &errb); code != 0 {
		t.Fatalf("dcnetctl pools create: %d %s", code, errb.String())
	}
	want := "frontend frontend_0.0.0.0_80 *:80 http default=web\n  route api.example.com -> api\n" +
		"backend api http roundrobin\n  server endpoint:a4/dcos/c4/eth0:8080 9.0.7.2:8080 weight=1\n" +
		"backend web http roundrobin\n"
	for name, in := range map[string]*instance{"a": a, "b": b} {
		eventually.True(t, 5*time.Second, "instance "+name+" serves the pool", func() bool {
			return strings.HasPrefix(in.fa.String(), want) && strings.Count(in.fa.String(), "server web.") == 2
		})
	}
	m.Scale("/web", 3, 0)
	eventually.True(t, 5*time.Second, "both see the scale-up", func() bool {
		return strings.Count(a.fa.String(), "server web.") == 3 && strings.Count(b.fa.String(), "server web.") == 3
	})
	served := b.fa.String()
	if ok, why := b.d.health(); !ok {
		t.Fatalf("unhealthy with everything up: %s", why)
	}

	stopEtcd()
	eventually.True(t, 10*time.Second, "health fails with etcd down", func() bool { ok, _ := b.d.health(); return !ok })
	if _, why := b.d.health(); !strings.Contains(why, "source pool stale") && !strings.Contains(why, "source endpoints stale") {
		t.Errorf("health reason %q does not name an etcd source", why)
	}
	if got := b.fa.String(); got != served {
		t.Errorf("configuration changed with etcd down:\n%s\nwas:\n%s", got, served)
	}
	out.Reset()
	errb.Reset()
	if code := ctl.Main(context.Background(), []string{"--l7lb", a.addr(), "--timeout", "20s", "pools", "list"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "unreachable") {
		t.Errorf("pools list with etcd down: %d %s", code, errb.String())
	}

	// b restarts on its node while etcd is still down.
	b.stop()
	b2 := startInstance(t, store, m, dir2)
	eventually.True(t, 5*time.Second, "restarted instance serves the saved configuration", func() bool { return b2.fa.Applies() >= 1 })
	if got := b2.fa.String(); got != served {
		t.Errorf("after a restart with etcd down:\n%s\nwant:\n%s", got, served)
	}
	if src, ok, fromDisk := b2.d.opts.PoolSource.Pool(); !ok || !fromDisk || src.Name != "web" {
		t.Errorf("pool not from the disk copy: ok=%v fromDisk=%v", ok, fromDisk)
	}
}
