package apply_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/haproxytest"
	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/render"
)

// BenchmarkPrivilegedPropagation measures, at 10, 100 and 1000 backends,
// how long a server change takes from the call to the new server
// answering through HAProxy: through the Applier (runtime API), and by the
// regenerate-validate-reload method Marathon-LB uses (render, haproxy -c,
// master CLI reload), done here with the same HAProxy. One iteration is
// one change; run with -benchtime=20x:
//
//	go test -run '^$' -bench PrivilegedPropagation -benchtime=20x ./l7lb/apply/
func BenchmarkPrivilegedPropagation(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchPropagation(b, n) })
	}
}

func benchPropagation(b *testing.B, n int) {
	r := haproxytest.NewRig(b, prefix, haproxytest.RigOptions{Apps: 2, NoRun: true})
	// Backend i has server "old" and, for the change, alternates with a
	// second server; both answer "<i>-a" / "<i>-b".
	type pair struct{ a, b *haproxytest.Backend }
	pairs := make([]pair, n)
	for i := range n {
		app := r.Apps[i%2]
		port := uint16(10000 + 2*i)
		pairs[i] = pair{
			haproxytest.ServeHTTP(b, app.Namespace, netip.AddrPortFrom(app.UnderlayIP, port), fmt.Sprintf("%d-a", i)),
			haproxytest.ServeHTTP(b, app.Namespace, netip.AddrPortFrom(app.UnderlayIP, port+1), fmt.Sprintf("%d-b", i)),
		}
	}
	useB := make([]bool, n)
	config := func() model.Config {
		cfg := model.Config{Frontends: []model.Frontend{{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 80)}}}
		for i, p := range pairs {
			be := fmt.Sprintf("app%d", i)
			srv := p.a.Server("a")
			if useB[i] {
				srv = p.b.Server("b")
			}
			cfg.Backends = append(cfg.Backends, model.Backend{Name: be, Mode: model.ModeHTTP, Servers: []model.Server{srv}})
			cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: be + ".example", Backend: be})
		}
		return cfg
	}
	r.Apply(config())
	c := r.HTTPClient(nil)
	url := fmt.Sprintf("http://%s/", r.LBAddr(80))
	waitFor := func(i int, body string) time.Duration {
		start := time.Now()
		for time.Since(start) < 30*time.Second {
			if _, got, err := r.Get(c, url, fmt.Sprintf("app%d.example", i)); err == nil && got == body {
				return time.Since(start)
			}
			time.Sleep(time.Millisecond)
		}
		b.Fatalf("backend %d never answered %s", i, body)
		return 0
	}
	name := func(i int) string {
		if useB[i] {
			return fmt.Sprintf("%d-b", i)
		}
		return fmt.Sprintf("%d-a", i)
	}

	measure := func(method string, change func(i int), after func()) {
		var lat []time.Duration
		for k := 0; k < b.N; k++ {
			i := (k * 7919) % n
			useB[i] = !useB[i]
			// The client polls from the moment of the change.
			start := time.Now()
			got := make(chan time.Duration, 1)
			go func() { got <- waitFor(i, name(i)) }()
			change(i)
			<-got
			lat = append(lat, time.Since(start))
			after()
		}
		sort.Slice(lat, func(x, y int) bool { return lat[x] < lat[y] })
		p := func(q float64) float64 {
			idx := max(0, min(len(lat)-1, int(q*float64(len(lat))+0.999999)-1))
			return float64(lat[idx].Microseconds()) / 1000
		}
		b.ReportMetric(p(0.5), method+"-p50-ms")
		b.ReportMetric(p(0.99), method+"-p99-ms")
		b.Logf("%d backends, %s: %d changes, p50 %.1f ms, p99 %.1f ms, max %.1f ms", n, method, len(lat), p(0.5), p(0.99), p(1))
	}

	ctx := context.Background()
	before := r.Applier.Stats().Reloads
	measure("runtime", func(int) {
		if res, err := r.Applier.Apply(ctx, config()); err != nil || res.Reloaded {
			b.Fatalf("runtime change: %+v, %v", res, err)
		}
	}, func() {
		// Free the slot of the server that left, as its drain would.
		r.Applier.Maintain(ctx)
	})
	if got := r.Applier.Stats().Reloads; got != before {
		b.Errorf("runtime changes reloaded HAProxy %d times", got-before)
	}

	// The reload method: everything rendered, validated and reloaded.
	dir := filepath.Join(r.Dir, "reload-method")
	measure("reload", func(int) {
		cfg, _ := render.Validate(config())
		slots := map[string][]render.Slot{}
		for _, be := range cfg.Backends {
			s := be.Servers[0]
			slots[be.Name] = []render.Slot{{Key: s.Key, Addr: s.Addr, Weight: 1, State: render.SlotReady}}
		}
		out, err := render.Render(render.Input{Config: cfg, Slots: slots, Dir: dir}, render.Options{StatsSocket: filepath.Join(r.Dir, "admin.sock"), HardStopAfter: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		for p, data := range out.Files {
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, data, 0o600)
		}
		cand := filepath.Join(dir, "haproxy.cfg")
		os.WriteFile(cand, out.Config, 0o600)
		if err := r.HAProxy.Check(ctx, cand); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(r.HAProxy.ConfigPath(), out.Config, 0o600)
		if err := r.HAProxy.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	}, func() {})
}
