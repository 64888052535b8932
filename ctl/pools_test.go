package ctl

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/l7lb/daemon"
	"github.com/dcnet/dcnet/l7lb/pools"
)

// l7lbAPI serves a dcnet-l7lb's HTTP API (pool mode, not running its
// loop) on a real etcd; it returns the --l7lb address.
func l7lbAPI(t *testing.T) string {
	t.Helper()
	store := etcdtest.Store(t)
	log := slog.New(slog.DiscardHandler)
	src, err := pools.NewSource(store, "web", t.TempDir(), time.Second, log)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(daemon.Options{Pool: "web", PoolSource: src, PoolStore: pools.NewStore(store), Applier: &daemon.FakeApplier{}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPools(t *testing.T) {
	addr := l7lbAPI(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "web.yaml")
	data, err := os.ReadFile("../conf/l7lb/pool-web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, data, 0o644)

	code, out, errs := run(t, "--l7lb", addr, "pools", "create", file)
	if code != 0 || !strings.HasPrefix(out, "pool web created (revision ") {
		t.Fatalf("create: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs = run(t, "--l7lb", addr, "pools", "create", file); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("second create: exit %d %s", code, errs)
	}
	code, out, _ = run(t, "--l7lb", addr, "pools", "list")
	for _, want := range []string{"POOL", "web", "HTTP *:80, HTTPS *:443, TCP *:5432", "web,api,db"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}

	// show prints YAML that update takes back.
	code, out, _ = run(t, "--l7lb", addr, "pools", "show", "web")
	if code != 0 || !strings.Contains(out, "# pool web, revision") || !strings.Contains(out, "bindPort: 5432") {
		t.Fatalf("show: exit %d\n%s", code, out)
	}
	edited := filepath.Join(dir, "edited.yaml")
	os.WriteFile(edited, []byte(strings.Replace(out, "bindPort: 5432", "bindPort: 5433", 1)), 0o644)
	if code, out, errs = run(t, "--l7lb", addr, "pools", "update", edited); code != 0 || !strings.Contains(out, "pool web updated") {
		t.Fatalf("update: exit %d %s %s", code, out, errs)
	}
	if _, out, _ = run(t, "-o", "json", "--l7lb", addr, "pools", "show", "web"); !strings.Contains(out, `"bindPort": 5433`) {
		t.Errorf("update not stored:\n%s", out)
	}

	// Stdin, and every wrong field at once.
	stdin = strings.NewReader("name: Bad!\nhaproxy:\n  frontends: [{bindPort: -1, protocol: HTTP, linkBackend: {defaultBackend: x}}]\n  backends: []\n")
	defer func() { stdin = os.Stdin }()
	code, _, errs = run(t, "--l7lb", addr, "pools", "create", "-")
	for _, want := range []string{"invalid pool (4 errors)", "haproxy.backends: missing", "haproxy.frontends[0].bindPort: -1 out of range",
		`haproxy.frontends[0].linkBackend.defaultBackend: backend "x" does not exist`, `name: "Bad!"`} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("invalid pool: exit %d, stderr lacks %q:\n%s", code, want, errs)
		}
	}

	if code, out, _ = run(t, "--l7lb", addr, "pools", "delete", "web"); code != 0 || out != "pool web deleted\n" {
		t.Errorf("delete: %d %q", code, out)
	}
	if code, _, errs = run(t, "--l7lb", addr, "pools", "show", "web"); code != 1 || !strings.Contains(errs, "no such pool") {
		t.Errorf("show deleted: %d %s", code, errs)
	}
}

func TestPoolsUsageAndUnreachable(t *testing.T) {
	for _, args := range [][]string{{"pools"}, {"pools", "frobnicate"}, {"pools", "show"}, {"pools", "list", "x"}} {
		if code, _, errs := run(t, args...); code != 2 || !strings.Contains(errs, "usage: dcnetctl [--l7lb ADDR] pools create") {
			t.Errorf("%v: exit %d %s", args, code, errs)
		}
	}
	if code, _, errs := run(t, "--l7lb", "127.0.0.1:1", "pools", "list"); code != 1 || !strings.Contains(errs, "is dcnet-l7lb running?") {
		t.Errorf("unreachable: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "pools", "create", "/nonexistent.yaml"); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d %s", code, errs)
	}
}

func TestL7LBStatus(t *testing.T) {
	addr := l7lbAPI(t)
	code, out, errs := run(t, "--l7lb", addr, "l7lb")
	if code != 0 || !strings.Contains(out, "mode:       pool (web)") || !strings.Contains(out, "SOURCE") || !strings.Contains(out, "pool") {
		t.Errorf("l7lb: exit %d\n%s%s", code, out, errs)
	}
}
