package render

import (
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/tlstest"
	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var ap = netip.MustParseAddrPort

// goldenDir stands for the generation directory in golden files.
const goldenDir = "@DIR@"

func servers(n int, base string) []model.Server {
	var s []model.Server
	for i := range n {
		s = append(s, model.Server{Key: "task" + string(rune('a'+i)), Addr: ap(base + string(rune('2'+i)) + ":80"), Weight: i + 1})
	}
	return s
}

// slotsFor puts servers into capacity slots in order, the last one
// draining when drainLast.
func slotsFor(ss []model.Server, capacity int, drainLast bool) []Slot {
	slots := make([]Slot, capacity)
	for i, s := range ss {
		st := SlotReady
		if drainLast && i == len(ss)-1 {
			st = SlotDrain
		}
		slots[i] = Slot{Key: s.Key, Addr: s.Addr, Weight: s.Weight, State: st}
	}
	return slots
}

type goldenCase struct {
	name  string
	cfg   model.Config
	opts  Options
	slots int // capacity of every backend
}

func goldenCases(t *testing.T) []goldenCase {
	web := tlstest.SelfSigned(t, "web.example")
	api := tlstest.SelfSigned(t, "api.example", "*.api.example")
	hash := "$6$dcnet$Q9vF1eEPr1ePuEpZV7zqkNOezzM.3V3WCrLsBBVlq4gGVXkqBrL4uZB8K2bXWhIVIKFPtFfd3nGZFZfKcD7Dz0"
	return []goldenCase{
		{name: "http-vhost-path", slots: 4, cfg: model.Config{
			Frontends: []model.Frontend{{Name: "marathon_http_in", Bind: ap("0.0.0.0:80"), Mode: model.ModeHTTP,
				Routes: []model.Route{
					{Host: "web.example", Backend: "web"},
					{Host: "web.example", PathPrefix: "/api", Backend: "api"},
				}, Default: "web"}},
			Backends: []model.Backend{
				{Name: "api", Mode: model.ModeHTTP, Servers: servers(1, "9.0.2.")},
				{Name: "web", Mode: model.ModeHTTP, Servers: servers(3, "9.0.1.")},
			}}},
		{name: "wildcard-anyhost", slots: 2, cfg: model.Config{
			Frontends: []model.Frontend{{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 8080),
				Routes: []model.Route{
					{Host: "*.apps.example", Backend: "apps"},
					{PathPrefix: "/static", Backend: "static"},
				}}},
			Backends: []model.Backend{
				{Name: "apps", Mode: model.ModeHTTP, Servers: servers(2, "9.0.3.")},
				{Name: "static", Mode: model.ModeHTTP, Servers: servers(1, "9.0.4.")},
			}}},
		{name: "tcp", slots: 3, cfg: model.Config{
			Frontends: []model.Frontend{{Name: "marathon_10000", Mode: model.ModeTCP, Bind: ap("198.18.0.1:10000"), Default: "db_10000"}},
			Backends: []model.Backend{{Name: "db_10000", Mode: model.ModeTCP, Balance: "leastconn",
				Health:  &model.HealthCheck{Interval: 500 * time.Millisecond, Rise: 1, Fall: 2},
				Servers: servers(2, "9.0.5.")}}}},
		{name: "tls-two-vhosts-redirect", slots: 2, cfg: model.Config{
			Frontends: []model.Frontend{
				{Name: "https_in", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:443"),
					TLS: &model.TLS{Certs: []model.Cert{{Name: "web.example.pem", PEM: web}, {Name: "api.example.pem", PEM: api}}},
					Routes: []model.Route{
						{Host: "web.example", Backend: "web"},
						{Host: "api.example", Backend: "api"},
					}},
				{Name: "http_in", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:80"), RedirectToHTTPS: true},
			},
			Backends: []model.Backend{
				{Name: "api", Mode: model.ModeHTTP, Servers: servers(1, "9.0.2.")},
				{Name: "web", Mode: model.ModeHTTP, Servers: servers(2, "9.0.1.")},
			}}},
		{name: "tls-tcp-sni", slots: 2, cfg: model.Config{
			Frontends: []model.Frontend{{Name: "tls_tcp", Mode: model.ModeTCP, Bind: ap("0.0.0.0:8443"),
				TLS:     &model.TLS{Certs: []model.Cert{{Name: "api.pem", PEM: api}}},
				Routes:  []model.Route{{Host: "api.example", Backend: "api_tcp"}, {Host: "*.api.example", Backend: "any_api"}},
				Default: "api_tcp"}},
			Backends: []model.Backend{
				{Name: "any_api", Mode: model.ModeTCP, Servers: servers(1, "9.0.7.")},
				{Name: "api_tcp", Mode: model.ModeTCP, Servers: servers(1, "9.0.6.")},
			}}},
		{name: "sticky-auth-hsts-health", slots: 3, cfg: model.Config{
			Frontends: []model.Frontend{{Name: "http_in", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:80"),
				Routes: []model.Route{{Host: "shop.example", Backend: "shop"}, {Host: "admin.example", Backend: "admin"}}}},
			Backends: []model.Backend{
				{Name: "admin", Mode: model.ModeHTTP, Auth: &model.BasicAuth{Realm: "admin area", User: "ops", PasswordHash: hash},
					RedirectToHTTPS: true, HSTS: true, Servers: servers(1, "9.0.8.")},
				{Name: "shop", Mode: model.ModeHTTP, Sticky: true, Balance: "source",
					Health:  &model.HealthCheck{HTTP: true, Path: "/health", Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3},
					Servers: servers(3, "9.0.9.")},
			}}},
		{name: "stats-ipv6", slots: 2, opts: Options{StatsBind: ap("127.0.0.1:9090"), MaxConn: 50000, HardStopAfter: 10 * time.Second},
			cfg: model.Config{
				Frontends: []model.Frontend{{Name: "v6_in", Mode: model.ModeHTTP, Bind: ap("[fd01:b::1]:80"), Default: "v6"}},
				Backends: []model.Backend{{Name: "v6", Mode: model.ModeHTTP, Servers: []model.Server{
					{Key: "t1", Addr: ap("[fd01:b::5]:8080"), Weight: 10}}}}}},
	}
}

// renderCase validates and renders c into dir.
func renderCase(t *testing.T, c goldenCase, dir string) *Output {
	t.Helper()
	cfg, problems := Validate(c.cfg)
	if len(problems) > 0 {
		t.Fatalf("Validate: %v", problems)
	}
	slots := map[string][]Slot{}
	for _, b := range cfg.Backends {
		slots[b.Name] = slotsFor(b.Servers, c.slots, c.name == "http-vhost-path" && b.Name == "web")
	}
	opts := c.opts
	opts.StatsSocket = filepath.Join(dir, "admin.sock")
	out, err := Render(Input{Config: cfg, Slots: slots, Dir: dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeOutput writes the configuration and its files under dir.
func writeOutput(t *testing.T, out *Output, dir string) string {
	t.Helper()
	for p, b := range out.Files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, out.Config, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := renderCase(t, c, dir)
			got := strings.ReplaceAll(string(out.Config), dir, goldenDir)
			for _, name := range sortedKeys(out.Maps) {
				got += "# map " + name + "\n" + string(MapFile(out.Maps[name].Entries))
			}
			golden := filepath.Join("testdata", c.name+".cfg")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./l7lb/render -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
			path := writeOutput(t, out, dir)
			haproxyCheck(t, path)
		})
	}
}

// haproxyCheck validates a rendered file with the real `haproxy -c` (it
// parses and loads files, binds nothing).
func haproxyCheck(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not on PATH: golden file compared but not validated by haproxy -c; run `make deps` (Debian's haproxy)")
	}
	if err := haproxy.Check(context.Background(), []string{"haproxy"}, path); err != nil {
		body, _ := os.ReadFile(path)
		t.Fatalf("%v\n%s", err, body)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestSections(t *testing.T) {
	c := goldenCases(t)[0]
	dir := t.TempDir()
	out := renderCase(t, c, dir)
	lines := strings.Split(string(out.Config), "\n")
	for _, s := range out.Sections {
		first := lines[s.First-1]
		if s.Kind == "frontend" || s.Kind == "backend" {
			if first != s.Kind+" "+s.Name {
				t.Errorf("section %s %s starts with %q", s.Kind, s.Name, first)
			}
		}
	}
	if s, ok := out.SectionAt(len(lines) - 2); !ok || s.Kind != "backend" || s.Name != "web" {
		t.Errorf("last line in section %+v, %v; want backend web", s, ok)
	}
}

// TestCheckFindsSection: an error HAProxy reports by line is mapped to
// the section that holds it.
func TestCheckFindsSection(t *testing.T) {
	c := goldenCases(t)[0]
	dir := t.TempDir()
	out := renderCase(t, c, dir)
	out.Config = []byte(strings.Replace(string(out.Config), "    balance roundrobin\n", "    balance roundrobin\n    bogus_keyword 1\n", 1))
	path := writeOutput(t, out, dir)
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not on PATH; run `make deps`")
	}
	err := haproxy.Check(context.Background(), []string{"haproxy"}, path)
	var ce *haproxy.CheckError
	if !errors.As(err, &ce) || len(ce.Alerts) == 0 {
		t.Fatalf("Check = %v, want a CheckError with alerts", err)
	}
	s, ok := out.SectionAt(ce.Alerts[0].Line)
	if !ok || s.Kind != "backend" || s.Name != "api" {
		t.Errorf("alert %v in section %+v, want backend api", ce.Alerts[0], s)
	}
}
