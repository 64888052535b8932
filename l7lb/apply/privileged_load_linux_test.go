package apply_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/haproxytest"
	"github.com/dcnet/dcnet/internal/loadgen"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/internal/tlstest"
	"github.com/dcnet/dcnet/l7lb/model"
)

// hardStopAfter is the rigs' bound on old workers.
const hardStopAfter = 5 * time.Second

// loads runs two constant loads from the client node, one opening a
// connection per request and one keeping its connections alive.
type loads struct {
	t     *testing.T
	close *loadgen.Load
	keep  *loadgen.Load
}

func startLoads(t *testing.T, r *haproxytest.Rig, cfg loadgen.Config) *loads {
	t.Helper()
	cfg.Dial = r.Dial
	cfg.Duration = 10 * time.Minute // ended by stop
	cfg.Workers = 4
	l := &loads{t: t}
	var err error
	if l.close, err = loadgen.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.KeepAlive = true
	if l.keep, err = loadgen.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.close.Stop(); l.keep.Stop() })
	return l
}

// stop ends both loads and fails the test on any failed request.
func (l *loads) stop(what string) (*loadgen.Result, *loadgen.Result) {
	l.t.Helper()
	c, k := l.close.Stop(), l.keep.Stop()
	for _, res := range []*loadgen.Result{c, k} {
		l.t.Logf("%s: %v", what, res)
		if res.Failed() > 0 || res.Kinds[loadgen.KindOK] == 0 {
			l.t.Errorf("%s: %d failed requests of %d: %v, examples %v", what, res.Failed(), res.Requests, res.Kinds, res.Errors)
		}
	}
	return c, k
}

func masterReloads(t *testing.T, r *haproxytest.Rig) int {
	t.Helper()
	procs, err := r.HAProxy.ShowProc(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return procs.Master.Reloads
}

func webCfg(servers []model.Server) model.Config {
	return model.Config{
		Frontends: []model.Frontend{{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 80),
			Routes: []model.Route{{Host: "web.example", Backend: "web"}}}},
		Backends: []model.Backend{{Name: "web", Mode: model.ModeHTTP, Servers: servers}},
	}
}

// TestPrivilegedScaleUnderLoad: under constant load no request fails while
// the backends scale 3 → 10 → 3 (servers that leave drain first and stop
// only once their slot is free), and none of it reloads HAProxy.
func TestPrivilegedScaleUnderLoad(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{Apps: 3})
	var bs []*haproxytest.Backend
	for i := range 10 {
		app := r.Apps[i%3]
		bs = append(bs, haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, uint16(8001+i)), fmt.Sprintf("b%d", i+1)))
	}
	servers := func(n int) []model.Server {
		var ss []model.Server
		for _, b := range bs[:n] {
			ss = append(ss, b.Server(b.Name))
		}
		return ss
	}
	r.Apply(webCfg(servers(3)))
	reloads := masterReloads(t, r)
	l := startLoads(t, r, loadgen.Config{Addr: r.LBAddr(80).String(), Host: "web.example"})
	time.Sleep(500 * time.Millisecond)

	if res := r.Apply(webCfg(servers(10))); res.Reloaded || res.ReloadPending {
		t.Fatalf("scale up = %+v, want runtime only", res)
	}
	if err := netsim.WaitFor(context.Background(), 10*time.Second, 100*time.Millisecond, func() error {
		for _, b := range bs {
			if b.Hits.Load() == 0 {
				return fmt.Errorf("%s got no request yet", b.Name)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("scale up: %v", err)
	}
	time.Sleep(500 * time.Millisecond)

	if res := r.Apply(webCfg(servers(3))); res.Reloaded || res.ReloadPending {
		t.Fatalf("scale down = %+v, want runtime only", res)
	}
	// Each leaving server stops only after its slot was freed.
	if err := netsim.WaitFor(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
		for _, be := range r.Applier.Slots() {
			for _, s := range be.Slots {
				if s.LeavingSince != nil {
					return fmt.Errorf("%s (%s) still draining", s.Key, s.Server)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("drain: %v", err)
	}
	for _, b := range bs[3:] {
		b.Shutdown()
	}
	time.Sleep(time.Second)
	hits := map[string]int64{}
	for _, b := range bs[3:] {
		hits[b.Name] = b.Hits.Load()
	}
	time.Sleep(500 * time.Millisecond)
	for _, b := range bs[3:] {
		if b.Hits.Load() != hits[b.Name] {
			t.Errorf("%s still gets requests after it left", b.Name)
		}
	}
	l.stop("scale 3 -> 10 -> 3")
	if got := masterReloads(t, r); got != reloads {
		t.Errorf("master reloads %d -> %d while scaling", reloads, got)
	}
	if s := r.Applier.Stats(); s.Reloads != 1 || s.RuntimeFailures != 0 {
		t.Errorf("applier stats %+v, want the one start and no runtime failure", s)
	}
}

// TestPrivilegedCertRenewalUnderLoad: a renewed certificate is served
// without a reload while HTTPS clients keep connecting.
func TestPrivilegedCertRenewalUnderLoad(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{})
	app := r.Apps[0]
	web := haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, 8001), "web")
	old := tlstest.SelfSigned(t, "web.example")
	renewed := tlstest.SelfSigned(t, "web.example")
	cfg := func(p []byte) model.Config {
		return model.Config{
			Frontends: []model.Frontend{{Name: "https_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 443),
				TLS:    &model.TLS{Certs: []model.Cert{{Name: "web.pem", PEM: p}}},
				Routes: []model.Route{{Host: "web.example", Backend: "web"}}}},
			Backends: []model.Backend{{Name: "web", Mode: model.ModeHTTP, Servers: []model.Server{web.Server("w1")}}},
		}
	}
	r.Apply(cfg(old))
	reloads := masterReloads(t, r)
	tlsConf := &tls.Config{RootCAs: tlstest.Pool(t, old, renewed), ServerName: "web.example"}
	l := startLoads(t, r, loadgen.Config{Addr: r.LBAddr(443).String(), Host: "web.example", TLS: tlsConf})
	time.Sleep(500 * time.Millisecond)
	res := r.Apply(cfg(renewed))
	if res.Reloaded || res.RuntimeChanges != 2 {
		t.Fatalf("renewal = %+v, want set + commit only", res)
	}
	time.Sleep(500 * time.Millisecond)
	l.stop("certificate renewal")
	if got := masterReloads(t, r); got != reloads {
		t.Errorf("master reloads %d -> %d for a renewal", reloads, got)
	}
	conn, err := r.Dial(context.Background(), "tcp", r.LBAddr(443).String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(conn, tlsConf)
	defer tc.Close()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(renewed)
	want, _ := x509.ParseCertificate(blk.Bytes)
	if got := tc.ConnectionState().PeerCertificates[0]; got.SerialNumber.Cmp(want.SerialNumber) != 0 {
		t.Errorf("served certificate serial %v, want the renewed %v", got.SerialNumber, want.SerialNumber)
	}
}

// TestPrivilegedReloadsUnderLoad: 50 structural changes make 50 reloads
// without a failed request, and afterwards no old worker outlives
// hard-stop-after.
func TestPrivilegedReloadsUnderLoad(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{Apps: 2})
	var servers []model.Server
	for i, app := range r.Apps {
		b := haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, 8001), fmt.Sprintf("b%d", i+1))
		servers = append(servers, b.Server(b.Name))
	}
	base := webCfg(servers)
	r.Apply(base)
	reloads := masterReloads(t, r)
	l := startLoads(t, r, loadgen.Config{Addr: r.LBAddr(80).String(), Host: "web.example"})
	time.Sleep(300 * time.Millisecond)
	const changes = 50
	for i := range changes {
		cfg := base
		// A new backend with a route each time: structural.
		cfg.Backends = append([]model.Backend{{Name: fmt.Sprintf("extra%d", i), Mode: model.ModeHTTP, Servers: servers[:1]}}, base.Backends...)
		cfg.Frontends = []model.Frontend{base.Frontends[0]}
		cfg.Frontends[0].Routes = append([]model.Route{{Host: fmt.Sprintf("extra%d.example", i), Backend: fmt.Sprintf("extra%d", i)}}, base.Frontends[0].Routes...)
		if res := r.Apply(cfg); !res.Reloaded {
			t.Fatalf("change %d = %+v, want a reload", i, res)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	l.stop(fmt.Sprintf("%d reloads", changes))
	if got := masterReloads(t, r); got != reloads+changes {
		t.Errorf("master reloads %d -> %d, want %d more", reloads, got, changes)
	}
	// Old workers end by hard-stop-after at the latest.
	time.Sleep(hardStopAfter + 2*time.Second)
	procs, err := r.HAProxy.ShowProc(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(procs.Old) != 0 || len(procs.Workers) != 1 {
		t.Errorf("after hard-stop-after: %d old workers, %d workers: %+v", len(procs.Old), len(procs.Workers), procs)
	}
	if pids := r.Processes(); len(pids) != 2 {
		t.Errorf("haproxy processes after hard-stop-after: %v, want the master and one worker", pids)
	}
}

// TestPrivilegedKill9: HAProxy killed -9 is restarted by its supervisor
// with everything the runtime API had changed, and serves again.
func TestPrivilegedKill9(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{})
	app := r.Apps[0]
	var servers []model.Server
	for i := range 4 {
		b := haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, uint16(8001+i)), fmt.Sprintf("b%d", i+1))
		servers = append(servers, b.Server(b.Name))
	}
	r.Apply(webCfg(servers[:1]))
	if res := r.Apply(webCfg(servers)); res.Reloaded {
		t.Fatalf("scale up = %+v, want runtime only", res)
	}
	pid := r.HAProxy.PID()
	starts := r.HAProxy.Starts()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c := r.HTTPClient(nil)
	url := fmt.Sprintf("http://%s/", r.LBAddr(80))
	if err := netsim.WaitFor(context.Background(), 20*time.Second, 100*time.Millisecond, func() error {
		if r.HAProxy.Starts() == starts {
			return fmt.Errorf("not restarted yet")
		}
		seen := map[string]bool{}
		for range 16 {
			code, body, err := r.Get(c, url, "web.example")
			if err != nil || code != 200 {
				return fmt.Errorf("GET: %d %v", code, err)
			}
			seen[body] = true
		}
		if len(seen) != 4 {
			return fmt.Errorf("answers from %v, want all 4 servers", seen)
		}
		return nil
	}); err != nil {
		t.Fatalf("after kill -9 of pid %d: %v", pid, err)
	}
	if r.HAProxy.PID() == pid {
		t.Error("same master PID after kill -9")
	}
	// The applier noticed and keeps working at runtime.
	b5 := haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, 8010), "b5")
	if res := r.Apply(webCfg(append(servers, b5.Server("b5")))); res.Reloaded || res.RuntimeChanges == 0 {
		t.Errorf("after restart = %+v, want runtime changes", res)
	}
	if s := r.Applier.Stats(); s.Restarts != 1 {
		t.Errorf("applier saw %d restarts, want 1", s.Restarts)
	}
}

// TestPrivilegedIsolation: a certificate `haproxy -c` refuses and a
// frontend whose bind fails at reload are left out alone and reported;
// everything else is served.
func TestPrivilegedIsolation(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{})
	app := r.Apps[0]
	web := haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, 8001), "web")
	good := tlstest.SelfSigned(t, "web.example")
	weak := tlstest.SelfSignedRSA(t, 1024, "weak.example")
	cfg := webCfg([]model.Server{web.Server("w1")})
	cfg.Frontends = append(cfg.Frontends,
		model.Frontend{Name: "https_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 443),
			TLS:    &model.TLS{Certs: []model.Cert{{Name: "web.pem", PEM: good}, {Name: "weak.pem", PEM: weak}}},
			Routes: []model.Route{{Host: "web.example", Backend: "web"}}},
		model.Frontend{Name: "elsewhere", Mode: model.ModeHTTP, Bind: netip.MustParseAddrPort("203.0.113.7:8080"), Default: "web"},
	)
	res := r.Apply(cfg)
	if !res.Reloaded {
		t.Fatalf("Apply = %+v, want served", res)
	}
	if !hasProblem(res.Problems, "cert", "weak.pem") || !hasProblem(res.Problems, "frontend", "elsewhere") || hasProblem(res.Problems, "frontend", "https_in") {
		t.Errorf("problems = %+v, want the weak certificate and the unbindable frontend only", res.Problems)
	}
	t.Logf("problems: %+v", res.Problems)
	c := r.HTTPClient(&tls.Config{RootCAs: tlstest.Pool(t, good), ServerName: "web.example"})
	wantGet(t, r, c, fmt.Sprintf("http://%s/", r.LBAddr(80)), "web.example", 200, "web")
	wantGet(t, r, c, fmt.Sprintf("https://%s/", r.LBAddr(443)), "web.example", 200, "web")
	// The same bad parts again: no new check, no reload.
	checks := r.Applier.Stats().CheckFailures
	cfg.Backends[0].Servers[0].Weight = 3
	if res := r.Apply(cfg); res.Reloaded || r.Applier.Stats().CheckFailures != checks || !hasProblem(res.Problems, "cert", "weak.pem") {
		t.Errorf("same bad parts again = %+v", res)
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
