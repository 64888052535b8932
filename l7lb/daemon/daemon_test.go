package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/eventually"
	"github.com/dcnet/dcnet/internal/marathontest"
	"github.com/dcnet/dcnet/l7lb/build"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/marathon"
)

func marathonSource(t testing.TB, m *marathontest.Marathon) *marathon.Source {
	t.Helper()
	c, err := marathon.NewClient([]string{m.URL}, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return marathon.NewSource(marathon.Options{Client: c, Resync: time.Hour, Idle: 300 * time.Millisecond})
}

// runDaemon starts d and stops it when t ends.
func runDaemon(t testing.TB, d *Daemon) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mlbDaemon(t *testing.T, m *marathontest.Marathon, fa *FakeApplier, stateDir string) *Daemon {
	t.Helper()
	o := build.DefaultMarathonLB()
	o.HTTPS = netipNone
	d, err := New(Options{MarathonLB: o, Marathon: marathonSource(t, m), Applier: fa, StateDir: stateDir,
		StaleAfter: 700 * time.Millisecond, SyncInterval: 100 * time.Millisecond, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMarathonLBMode: apps reach the applier; scaling changes servers
// without a structural change; a wedged Marathon keeps the last
// configuration but fails the health check, naming the source.
func TestMarathonLBMode(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 2,
		Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "web.example.com"}})
	m.PutApp(marathontest.AppSpec{ID: "/bad", ServicePorts: []int{10001}, Instances: 1,
		Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "eighty", "HAPROXY_0_FRONTEND_HEAD": "x"}})
	fa := &FakeApplier{}
	d := mlbDaemon(t, m, fa, "")
	runDaemon(t, d)
	eventually.True(t, 5*time.Second, "web with 2 servers", func() bool { return strings.Count(fa.String(), "server web.") == 2 })
	want := "frontend marathon_http_in *:80 http default=-\n  route web.example.com -> web_10000\n"
	if !strings.Contains(fa.String(), want) {
		t.Errorf("config:\n%s\nwant it to contain:\n%s", fa, want)
	}
	if !strings.Contains(fa.String(), `problem app /bad: HAPROXY_0_PORT="eighty": want a port in [1, 65535]`) {
		t.Errorf("the bad app is not a problem:\n%s", fa)
	}
	if ok, why := d.health(); !ok {
		t.Errorf("unhealthy: %s", why)
	}
	st := d.Status()
	if st.Mode != l7lbapi.ModeMarathonLB || len(st.Problems) != 1 || st.Problems[0].Name != "/bad" || st.Reloads != 1 {
		t.Errorf("status %+v", st)
	}

	m.Scale("/web", 4, 0)
	eventually.True(t, 5*time.Second, "web with 4 servers", func() bool { return strings.Count(fa.String(), "server web.") == 4 })
	if st := d.Status(); st.Reloads != 1 || st.RuntimeChanges < 2 {
		t.Errorf("a scale-up should change servers only: reloads %d, runtime changes %d", st.Reloads, st.RuntimeChanges)
	}

	m.SetMode(marathontest.Stall)
	m.SilenceStreams(true)
	eventually.True(t, 5*time.Second, "stale", func() bool { ok, _ := d.health(); return !ok })
	_, why := d.health()
	if !strings.Contains(why, "source marathon stale") {
		t.Errorf("health reason %q does not name the stale source", why)
	}
	if strings.Count(fa.String(), "server web.") != 4 {
		t.Errorf("last configuration not kept:\n%s", fa)
	}
	resp := get(t, d, l7lbapi.PathMLBHealth)
	if resp.code != http.StatusServiceUnavailable || !strings.Contains(resp.body, "marathon") {
		t.Errorf("%s: %d %s", l7lbapi.PathMLBHealth, resp.code, resp.body)
	}
}

// TestNoBuildBeforeSync: nothing is applied while Marathon has not
// answered, and the health check says what it waits for.
func TestNoBuildBeforeSync(t *testing.T) {
	m := marathontest.ForTest(t)
	m.SetMode(marathontest.Stall)
	fa := &FakeApplier{}
	d := mlbDaemon(t, m, fa, "")
	runDaemon(t, d)
	time.Sleep(400 * time.Millisecond)
	if n := fa.Applies(); n != 0 {
		t.Fatalf("%d applies before Marathon answered", n)
	}
	if _, why := d.health(); !strings.Contains(why, "waiting for [marathon]") {
		t.Errorf("health reason %q", why)
	}
	m.SetMode(marathontest.Normal)
	eventually.True(t, 5*time.Second, "applied once Marathon answers", func() bool { return fa.Applies() > 0 })
}

// TestLastGoodConfigFromDisk: a restart with Marathon down serves the
// configuration saved by the previous run (certificates and all), and
// the health check reports its age.
func TestLastGoodConfigFromDisk(t *testing.T) {
	dir := t.TempDir()
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 3,
		Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http", "HAPROXY_0_AUTH": "r:alice:$6$hash"}})
	fa := &FakeApplier{}
	d := mlbDaemon(t, m, fa, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	eventually.True(t, 5*time.Second, "3 servers", func() bool { return strings.Count(fa.String(), "server web.") == 3 })
	cancel()
	<-done
	first, _ := fa.Last()

	m.SetMode(marathontest.Stall)
	fb := &FakeApplier{}
	d2 := mlbDaemon(t, m, fb, dir)
	runDaemon(t, d2)
	eventually.True(t, 5*time.Second, "saved configuration applied", func() bool { return fb.Applies() == 1 })
	got, _ := fb.Last()
	if Describe(got) != Describe(first) {
		t.Errorf("saved configuration:\n%s\nwant:\n%s", Describe(got), Describe(first))
	}
	if b, _ := got.Backend("web_10000"); b == nil || b.Auth == nil || b.Auth.PasswordHash != "$6$hash" {
		t.Errorf("password hash not restored: %+v", b)
	}
	if st := d2.Status(); !st.FromDisk {
		t.Errorf("status does not say the configuration is from disk: %+v", st)
	}
	eventually.True(t, 5*time.Second, "stale", func() bool { ok, _ := d2.health(); return !ok })
}

// TestApplyErrorReported: a failing applier is counted, shown and
// retried; the health check fails once it lasts.
func TestApplyErrorReported(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external"}})
	fa := &FakeApplier{}
	fa.SetErr(errors.New("haproxy -c: frontend web_10000: bind failed"))
	d := mlbDaemon(t, m, fa, "")
	runDaemon(t, d)
	eventually.True(t, 5*time.Second, "apply error in status", func() bool { return d.Status().LastApplyError != "" })
	eventually.True(t, 5*time.Second, "unhealthy", func() bool { ok, _ := d.health(); return !ok })
	if body := get(t, d, l7lbapi.PathMetrics).body; !strings.Contains(body, "dcnet_l7lb_apply_errors_total ") ||
		strings.Contains(body, "dcnet_l7lb_apply_errors_total 0\n") {
		t.Errorf("apply errors not counted:\n%s", grep(body, "apply_errors"))
	}
	fa.SetErr(nil)
	eventually.True(t, 5*time.Second, "healthy after the applier recovers", func() bool { ok, _ := d.health(); return ok })
}

// TestMetrics: the metrics the issue asks for are exported.
func TestMetrics(t *testing.T) {
	m := marathontest.ForTest(t)
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external"}})
	fa := &FakeApplier{}
	d := mlbDaemon(t, m, fa, "")
	runDaemon(t, d)
	eventually.True(t, 5*time.Second, "applied", func() bool { return fa.Applies() > 0 })
	m.SendGarbage()
	eventually.True(t, 5*time.Second, "garbage counted", func() bool { return d.opts.Marathon.Errors()["stream_garbage"] > 0 })
	body := get(t, d, l7lbapi.PathMetrics).body
	for _, want := range []string{
		`dcnet_l7lb_syncs_total{result="ok"}`, `dcnet_l7lb_applies_total{result="reload"} 1`, "dcnet_l7lb_apply_runtime_changes_total",
		`dcnet_l7lb_config_problems{kind="app"} 0`, "dcnet_l7lb_last_sync_age_seconds", "dcnet_l7lb_healthy 1",
		`dcnet_l7lb_source_errors_total{kind="stream_garbage",source="marathon"} 1`,
		`dcnet_l7lb_source_last_sync_age_seconds{source="marathon"}`, `dcnet_l7lb_servers{state="active"} 1`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

type answer struct {
	code int
	body string
}

func get(t *testing.T, d *Daemon, path string) answer {
	t.Helper()
	return do(t, d, http.MethodGet, path, "")
}

func do(t *testing.T, d *Daemon, method, path, body string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, req)
	return answer{code: rec.Code, body: rec.Body.String()}
}

var netipNone netip.AddrPort

func grep(s, what string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, what) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
