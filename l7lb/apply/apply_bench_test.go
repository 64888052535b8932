package apply

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/dcnet/dcnet/l7lb/model"
)

// BenchmarkApplyServerChange is one server change among 1000 backends
// through the FakeHAProxy: the Applier's own cost of a runtime change.
func BenchmarkApplyServerChange(b *testing.B) {
	dir := b.TempDir()
	h := &FakeHAProxy{Path: filepath.Join(dir, "haproxy.cfg")}
	opts := Options{Dir: dir, MinReloadInterval: -1}
	opts.Render.StatsSocket = filepath.Join(dir, "admin.sock")
	a, err := New(h, opts)
	if err != nil {
		b.Fatal(err)
	}
	const n = 1000
	port := make([]uint16, n)
	cfg := func() model.Config { return benchConfig(port) }
	for i := range port {
		port[i] = 10000
	}
	ctx := context.Background()
	if _, err := a.Apply(ctx, cfg()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		port[k%n]++
		if res, err := a.Apply(ctx, cfg()); err != nil || res.Reloaded {
			b.Fatal(res, err)
		}
	}
}

func benchConfig(port []uint16) model.Config {
	cfg := model.Config{Frontends: []model.Frontend{{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.MustParseAddrPort("0.0.0.0:80")}}}
	for i, p := range port {
		be := fmt.Sprintf("app%d", i)
		cfg.Backends = append(cfg.Backends, model.Backend{Name: be, Mode: model.ModeHTTP,
			Servers: []model.Server{{Key: fmt.Sprintf("t%d-%d", i, p), Addr: netip.AddrPortFrom(netip.MustParseAddr("9.0.0.2"), p)}}})
		cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: be + ".example", Backend: be})
	}
	return cfg
}
