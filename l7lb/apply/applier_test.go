package apply

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/tlstest"
	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/model"
)

// rig is an Applier over a FakeHAProxy with a settable clock.
type rig struct {
	t   *testing.T
	h   *FakeHAProxy
	a   *Applier
	now time.Time
}

func newRig(t *testing.T, mod func(*Options)) *rig {
	dir := t.TempDir()
	r := &rig{t: t, h: &FakeHAProxy{Path: filepath.Join(dir, "haproxy.cfg")}, now: time.Unix(1_700_000_000, 0)}
	opts := Options{Dir: dir, MinReloadInterval: -1, SlotStep: 4, DrainTimeout: 10 * time.Second, Now: func() time.Time { return r.now }}
	opts.Render.StatsSocket = filepath.Join(dir, "admin.sock")
	if mod != nil {
		mod(&opts)
	}
	a, err := New(r.h, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	return r
}

func (r *rig) apply(cfg model.Config) model.Result {
	r.t.Helper()
	res, err := r.a.Apply(context.Background(), cfg)
	if err != nil {
		r.t.Fatalf("Apply: %v", err)
	}
	return res
}

// wantState compares the fake's state, then checks that the file holds
// it too: a restart from the file gives the same state.
func (r *rig) wantState(want string) {
	r.t.Helper()
	want = strings.TrimSpace(want)
	if got := r.h.State(); got != want {
		r.t.Fatalf("haproxy state:\n%s\nwant:\n%s", got, want)
	}
	if err := r.a.Flush(); err != nil {
		r.t.Fatal(err)
	}
	if err := r.h.Restart(); err != nil {
		r.t.Fatal(err)
	}
	if got := r.h.State(); got != want {
		r.t.Fatalf("haproxy state after a restart from the file:\n%s\nwant:\n%s", got, want)
	}
	if _, err := r.a.Maintain(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func srv(key string, addr string) model.Server {
	return model.Server{Key: key, Addr: netip.MustParseAddrPort(addr)}
}

func webConfig(servers ...model.Server) model.Config {
	return model.Config{
		Frontends: []model.Frontend{{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.MustParseAddrPort("0.0.0.0:80"),
			Routes: []model.Route{{Host: "web.example", Backend: "web"}}}},
		Backends: []model.Backend{{Name: "web", Mode: model.ModeHTTP, Servers: servers}},
	}
}

func TestScaleWithoutReload(t *testing.T) {
	r := newRig(t, nil)
	res := r.apply(webConfig(srv("a", "9.0.0.2:80"), srv("b", "9.0.0.3:80")))
	if !res.Reloaded {
		t.Fatalf("first Apply = %+v, want the start", res)
	}
	r.wantState(`
map maps/http_in.map web.example/ web
server web/s1 9.0.0.2:80 weight 1 ready
server web/s2 9.0.0.3:80 weight 1 ready`)

	// Same config: nothing.
	if res := r.apply(webConfig(srv("a", "9.0.0.2:80"), srv("b", "9.0.0.3:80"))); res.Reloaded || res.RuntimeChanges != 0 {
		t.Errorf("same config again = %+v, want nothing", res)
	}
	// Scale up within the slots (step 4: 8 slots for 2 servers).
	res = r.apply(webConfig(srv("a", "9.0.0.2:80"), srv("b", "9.0.0.3:80"), srv("c", "9.0.0.4:80"), srv("d", "9.0.0.5:80")))
	if res.Reloaded || res.RuntimeChanges != 6 {
		t.Errorf("scale up = %+v, want 6 runtime commands and no reload", res)
	}
	// b leaves: it drains first; a weight change on a.
	a := srv("a", "9.0.0.2:80")
	a.Weight = 5
	r.h.SetSessions("web/s2", 1)
	r.apply(webConfig(a, srv("c", "9.0.0.4:80"), srv("d", "9.0.0.5:80")))
	r.wantState(`
map maps/http_in.map web.example/ web
server web/s1 9.0.0.2:80 weight 5 ready
server web/s2 9.0.0.3:80 weight 0 drain
server web/s3 9.0.0.4:80 weight 1 ready
server web/s4 9.0.0.5:80 weight 1 ready`)
	// Its sessions end: the slot is freed.
	r.h.SetSessions("web/s2", 0)
	if res, err := r.a.Maintain(context.Background()); err != nil || res.RuntimeChanges != 1 {
		t.Fatalf("Maintain = %+v, %v; want the slot freed", res, err)
	}
	r.wantState(`
map maps/http_in.map web.example/ web
server web/s1 9.0.0.2:80 weight 5 ready
server web/s3 9.0.0.4:80 weight 1 ready
server web/s4 9.0.0.5:80 weight 1 ready`)
	// A new key takes the lowest free slot.
	r.apply(webConfig(a, srv("c", "9.0.0.4:80"), srv("d", "9.0.0.5:80"), srv("e", "9.0.0.6:80")))
	if st := r.a.Slots(); st[0].Slots[1].Key != "e" {
		t.Errorf("slots = %+v, want e in s2", st)
	}
	if s := r.a.Stats(); s.Reloads != 1 {
		t.Errorf("stats = %+v, want the one start only", s)
	}
}

func TestDrainBound(t *testing.T) {
	r := newRig(t, nil)
	r.apply(webConfig(srv("a", "9.0.0.2:80"), srv("b", "9.0.0.3:80")))
	r.apply(webConfig(srv("a", "9.0.0.2:80")))
	r.h.SetSessions("web/s2", 3)
	r.a.Maintain(context.Background())
	if r.a.Slots()[0].Slots[1].Key != "b" {
		t.Fatal("slot freed while it still has sessions")
	}
	r.now = r.now.Add(11 * time.Second)
	r.a.Maintain(context.Background())
	if r.a.Slots()[0].Slots[1].Key != "" {
		t.Fatal("slot not freed after the drain bound")
	}
}

func TestSlotsExhaustedReload(t *testing.T) {
	r := newRig(t, nil)
	r.apply(webConfig(srv("a", "9.0.0.2:80")))
	var ss []model.Server
	for i := range 9 {
		ss = append(ss, srv(fmt.Sprintf("k%d", i), fmt.Sprintf("9.0.1.%d:80", i+2)))
	}
	// 8 slots for one server (a step free); 9 need a reload to 16.
	res := r.apply(webConfig(ss...))
	if !res.Reloaded {
		t.Fatalf("Apply = %+v, want a reload", res)
	}
	if n := len(r.a.Slots()[0].Slots); n != 16 {
		t.Errorf("%d slots, want 16", n)
	}
}

func TestRoutesAndStructure(t *testing.T) {
	r := newRig(t, nil)
	cfg := webConfig(srv("a", "9.0.0.2:80"))
	cfg.Backends = append(cfg.Backends, model.Backend{Name: "api", Mode: model.ModeHTTP, Servers: []model.Server{srv("x", "9.0.2.2:80")}})
	r.apply(cfg)
	// A route of a kind already there, to a loaded backend: the map.
	cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: "api.example", PathPrefix: "/v1", Backend: "api"})
	if res := r.apply(cfg); res.Reloaded || res.RuntimeChanges != 3 {
		t.Errorf("new route = %+v, want prepare, add, commit", res)
	}
	r.wantState(`
map maps/http_in.map api.example/v1 api
map maps/http_in.map web.example/ web
server api/s1 9.0.2.2:80 weight 1 ready
server web/s1 9.0.0.2:80 weight 1 ready`)
	// A wildcard route is a new kind: a reload.
	cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: "*.example", Backend: "web"})
	if res := r.apply(cfg); !res.Reloaded {
		t.Errorf("wildcard route = %+v, want a reload", res)
	}
	// A new backend with a route to it: a reload, and the route with it.
	cfg.Backends = append(cfg.Backends, model.Backend{Name: "new", Mode: model.ModeHTTP, Servers: []model.Server{srv("n", "9.0.3.2:80")}})
	cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: "new.example", Backend: "new"})
	if res := r.apply(cfg); !res.Reloaded {
		t.Errorf("new backend = %+v, want a reload", res)
	}
	if !strings.Contains(r.h.State(), "new.example/ new") {
		t.Errorf("route to the new backend missing:\n%s", r.h.State())
	}
}

func TestDebouncedReload(t *testing.T) {
	r := newRig(t, func(o *Options) { o.MinReloadInterval = time.Minute })
	cfg := webConfig(srv("a", "9.0.0.2:80"))
	r.apply(cfg)
	cfg.Backends[0].Balance = "leastconn"
	cfg.Backends[0].Servers = append(cfg.Backends[0].Servers, srv("b", "9.0.0.3:80"))
	res := r.apply(cfg)
	if res.Reloaded || !res.ReloadPending || res.RuntimeChanges != 3 {
		t.Fatalf("debounced = %+v, want the server at runtime and the reload pending", res)
	}
	if res, _ := r.a.Maintain(context.Background()); res.Reloaded {
		t.Fatal("reloaded before the interval")
	}
	r.now = r.now.Add(time.Minute)
	if res, err := r.a.Maintain(context.Background()); err != nil || !res.Reloaded || res.ReloadPending {
		t.Fatalf("Maintain after the interval = %+v, %v; want the reload", res, err)
	}
	if r.h.Loads() != 2 {
		t.Errorf("%d loads, want 2", r.h.Loads())
	}
}

func TestCertRenewalAtRuntime(t *testing.T) {
	r := newRig(t, nil)
	cfg := webConfig(srv("a", "9.0.0.2:80"))
	tlsFE := model.Frontend{Name: "https_in", Mode: model.ModeHTTP, Bind: netip.MustParseAddrPort("0.0.0.0:443"),
		TLS:    &model.TLS{Certs: []model.Cert{{Name: "web.pem", PEM: tlstest.SelfSigned(t, "web.example")}}},
		Routes: []model.Route{{Host: "web.example", Backend: "web"}}}
	cfg.Frontends = append(cfg.Frontends, tlsFE)
	r.apply(cfg)
	renewed := tlstest.SelfSigned(t, "web.example", "www.web.example")
	cfg.Frontends[1].TLS = &model.TLS{Certs: []model.Cert{{Name: "web.pem", PEM: renewed}}}
	res := r.apply(cfg)
	if res.Reloaded || res.RuntimeChanges != 2 {
		t.Fatalf("renewal = %+v, want set + commit and no reload", res)
	}
	if !strings.Contains(r.h.State(), fmt.Sprintf("cert certs/web.pem %d bytes", len(renewed))) {
		t.Errorf("renewed certificate not served:\n%s", r.h.State())
	}
	r.a.Flush()
	b, _ := os.ReadFile(filepath.Join(r.a.loaded.dir, "certs", "web.pem"))
	if string(b) != string(renewed) {
		t.Error("renewed certificate not in the generation's file")
	}
	// Garbage is refused by our own check: the renewed certificate keeps
	// serving, and that is reported.
	cfg.Frontends[1].TLS = &model.TLS{Certs: []model.Cert{{Name: "web.pem", PEM: []byte("junk")}}}
	res = r.apply(cfg)
	if res.Reloaded || res.RuntimeChanges != 0 || !hasProblem(res.Problems, "cert", "web.pem") || hasProblem(res.Problems, "frontend", "https_in") {
		t.Errorf("bad renewal = %+v, want the certificate reported and nothing changed", res)
	}
	// A new certificate that is garbage from the start has nothing to
	// fall back to: its frontend, left without a certificate, goes.
	cfg.Frontends = append(cfg.Frontends, model.Frontend{Name: "https_other", Mode: model.ModeHTTP, Bind: netip.MustParseAddrPort("0.0.0.0:8443"),
		TLS: &model.TLS{Certs: []model.Cert{{Name: "other.pem", PEM: []byte("junk")}}}})
	res = r.apply(cfg)
	if !hasProblem(res.Problems, "cert", "other.pem") || !hasProblem(res.Problems, "frontend", "https_other") || hasProblem(res.Problems, "frontend", "https_in") {
		t.Errorf("bad new certificate: problems = %+v", res.Problems)
	}
}

func hasProblem(ps []model.Problem, kind, name string) bool {
	for _, p := range ps {
		if p.Kind == kind && p.Name == name {
			return true
		}
	}
	return false
}

// TestCheckIsolation: the backend haproxy -c refuses is left out alone,
// and left out again without another check while it is unchanged.
func TestCheckIsolation(t *testing.T) {
	checks := 0
	r := newRig(t, nil)
	r.h.CheckFunc = func(path string) error {
		checks++
		b, _ := os.ReadFile(path)
		for i, l := range strings.Split(string(b), "\n") {
			if l == "backend bad" {
				return &haproxy.CheckError{Path: path, Alerts: []haproxy.Alert{{File: path, Line: i + 2, Text: "parsing: something HAProxy refuses"}}}
			}
		}
		return nil
	}
	cfg := webConfig(srv("a", "9.0.0.2:80"))
	cfg.Backends = append(cfg.Backends, model.Backend{Name: "bad", Mode: model.ModeHTTP, Servers: []model.Server{srv("x", "9.0.9.2:80")}})
	cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: "bad.example", Backend: "bad"})
	res := r.apply(cfg)
	if !res.Reloaded || !hasProblem(res.Problems, "backend", "bad") || !hasProblem(res.Problems, "route", "http_in:bad.example") {
		t.Fatalf("Apply = %+v, want served without backend bad and its route", res)
	}
	if checks != 2 {
		t.Errorf("%d checks, want 2 (refused, then without the part)", checks)
	}
	r.wantState(`
map maps/http_in.map web.example/ web
server web/s1 9.0.0.2:80 weight 1 ready`)
	// Unchanged bad part: no new check, no reload, still reported.
	cfg.Backends[0].Servers = append(cfg.Backends[0].Servers, srv("b", "9.0.0.3:80"))
	res = r.apply(cfg)
	if res.Reloaded || checks != 2 || !hasProblem(res.Problems, "backend", "bad") {
		t.Errorf("Apply again = %+v after %d checks, want a runtime change only", res, checks)
	}
}

// TestLoadFailureKeepsOld: a reload HAProxy refuses leaves the old file in
// place and is retried with backoff; a refused bind drops its frontend.
func TestLoadFailureKeepsOld(t *testing.T) {
	r := newRig(t, nil)
	r.apply(webConfig(srv("a", "9.0.0.2:80")))
	before, _ := os.ReadFile(r.h.Path)
	r.h.LoadFunc = func(cfg string) error {
		if strings.Contains(cfg, "frontend other") {
			return &haproxy.ReloadError{Failed: 1, Lines: []string{"[ALERT]    (1) : Starting frontend other: cannot bind socket (Cannot assign requested address) [198.18.9.9:81]"}}
		}
		return nil
	}
	cfg := webConfig(srv("a", "9.0.0.2:80"))
	cfg.Frontends = append(cfg.Frontends, model.Frontend{Name: "other", Mode: model.ModeHTTP, Bind: netip.MustParseAddrPort("198.18.9.9:81"), Default: "web"})
	res := r.apply(cfg)
	if !res.Reloaded || !hasProblem(res.Problems, "frontend", "other") {
		t.Fatalf("Apply = %+v, want served without frontend other", res)
	}
	r.h.LoadFunc = func(string) error { return &haproxy.ReloadError{Failed: 1} }
	cfg.Backends[0].Balance = "leastconn"
	if _, err := r.a.Apply(context.Background(), cfg); err == nil {
		t.Fatal("Apply with a refused reload: no error")
	}
	after, _ := os.ReadFile(r.h.Path)
	if string(after) == string(before) || strings.Contains(string(after), "leastconn") {
		t.Error("the refused configuration is in place of the serving one")
	}
	if !hasProblem(r.a.Problems(), "reload", "haproxy") || !r.a.Stats().ReloadPending {
		t.Errorf("problems %+v, stats %+v: want the failed reload reported and pending", r.a.Problems(), r.a.Stats())
	}
}

// TestCertAddRemoveAtRuntime: a certificate joins and leaves a TLS
// frontend's crt-list without reload; a new default certificate reloads.
func TestCertAddRemoveAtRuntime(t *testing.T) {
	r := newRig(t, nil)
	web := model.Cert{Name: "web.pem", PEM: tlstest.SelfSigned(t, "web.example")}
	api := model.Cert{Name: "api.pem", PEM: tlstest.SelfSigned(t, "api.example")}
	cfg := func(certs ...model.Cert) model.Config {
		c := webConfig(srv("a", "9.0.0.2:80"))
		c.Frontends = append(c.Frontends, model.Frontend{Name: "https_in", Mode: model.ModeHTTP, Bind: netip.MustParseAddrPort("0.0.0.0:443"),
			TLS: &model.TLS{Certs: certs}, Routes: []model.Route{{Host: "web.example", Backend: "web"}}})
		return c
	}
	r.apply(cfg(web))
	if res := r.apply(cfg(web, api)); res.Reloaded || res.RuntimeChanges != 4 {
		t.Fatalf("add = %+v, want new + set + commit + add to the crt-list", res)
	}
	r.wantState(fmt.Sprintf(`
cert certs/api.pem %d bytes
cert certs/web.pem %d bytes
crt-list crt-lists/https_in.crtlist 0 certs/web.pem
crt-list crt-lists/https_in.crtlist 1 certs/api.pem
map maps/http_in.map web.example/ web
map maps/https_in.map web.example/ web
server web/s1 9.0.0.2:80 weight 1 ready`, len(api.PEM), len(web.PEM)))
	if res := r.apply(cfg(web)); res.Reloaded || res.RuntimeChanges != 2 {
		t.Fatalf("remove = %+v, want del from the crt-list + del cert", res)
	}
	if strings.Contains(r.h.State(), "api.pem") {
		t.Errorf("removed certificate still there:\n%s", r.h.State())
	}
	if res := r.apply(cfg(api, web)); !res.Reloaded {
		t.Errorf("new default certificate = %+v, want a reload", res)
	}
}

// TestKeepsFiveGenerations: every reload is a new generation directory;
// the last five stay.
func TestKeepsFiveGenerations(t *testing.T) {
	r := newRig(t, nil)
	cfg := webConfig(srv("a", "9.0.0.2:80"))
	for i := range 8 {
		cfg.Backends[0].Balance = []string{"roundrobin", "leastconn"}[i%2]
		if res := r.apply(cfg); !res.Reloaded {
			t.Fatalf("change %d = %+v, want a reload", i, res)
		}
	}
	gens, err := generations(r.a.opts.Dir)
	if err != nil || len(gens) != 5 || gens[4] != 8 {
		t.Errorf("generations = %v, %v; want 4..8", gens, err)
	}
	cur, _ := os.ReadFile(r.h.Path)
	last, _ := os.ReadFile(filepath.Join(r.a.opts.Dir, "gen", "8", "haproxy.cfg"))
	if string(cur) != string(last) {
		t.Error("HAProxy's file is not the last generation's")
	}
}
