package apply_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/haproxytest"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/internal/tlstest"
	"github.com/dcnet/dcnet/l7lb/apply"
	"github.com/dcnet/dcnet/l7lb/model"
)

// prefix is this package's netsim fabric prefix.
const prefix = "l7ap"

func appAddr(n *netsim.Node, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(n.UnderlayIP, port)
}

func wantGet(t *testing.T, r *haproxytest.Rig, c *http.Client, url, host string, status int, body string) {
	t.Helper()
	got, b, err := r.Get(c, url, host)
	if err != nil || got != status || (body != "" && b != body) {
		t.Errorf("GET %s (Host %s) = %d %q, %v; want %d %q", url, host, got, b, err, status, body)
	}
}

// TestPrivilegedRouting: HTTP vhost and path routing, a default backend,
// TCP mode, a route added to an existing backend without reload, and the
// stats page and Prometheus exporter.
func TestPrivilegedRouting(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{Apps: 2, Apply: func(o *apply.Options) {
		o.Render.StatsBind = netip.MustParseAddrPort("0.0.0.0:9090")
	}})
	app1, app2 := r.Apps[0], r.Apps[1]
	web := haproxytest.ServeHTTP(t, app1.Namespace, appAddr(app1, 8001), "web")
	api := haproxytest.ServeHTTP(t, app2.Namespace, appAddr(app2, 8002), "api")
	other := haproxytest.ServeHTTP(t, app2.Namespace, appAddr(app2, 8003), "other")
	netsim.ServeName(t, app1.Namespace, appAddr(app1, 9001).String(), "tcp-backend")

	cfg := model.Config{
		Frontends: []model.Frontend{
			{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 80), Default: "other",
				Routes: []model.Route{
					{Host: "web.example", Backend: "web"},
					{Host: "web.example", PathPrefix: "/api", Backend: "api"},
					{Host: "*.apps.example", Backend: "api"},
					{Host: "secure.example", Backend: "secure"},
				}},
			{Name: "tcp_10000", Mode: model.ModeTCP, Bind: r.LBAddr(10000), Default: "tcp_be"},
		},
		Backends: []model.Backend{
			{Name: "web", Mode: model.ModeHTTP, Servers: []model.Server{web.Server("w1")}},
			{Name: "api", Mode: model.ModeHTTP, Servers: []model.Server{api.Server("a1")}},
			{Name: "other", Mode: model.ModeHTTP, Servers: []model.Server{other.Server("o1")}},
			{Name: "secure", Mode: model.ModeHTTP, RedirectToHTTPS: true, Servers: []model.Server{web.Server("s1")}},
			{Name: "tcp_be", Mode: model.ModeTCP, Servers: []model.Server{{Key: "t1", Addr: appAddr(app1, 9001)}}},
		},
	}
	if res := r.Apply(cfg); !res.Reloaded || len(res.Problems) > 0 {
		t.Fatalf("first Apply = %+v", res)
	}
	c := r.HTTPClient(nil)
	base := fmt.Sprintf("http://%s", r.LBAddr(80))
	wantGet(t, r, c, base+"/", "web.example", 200, "web")
	wantGet(t, r, c, base+"/index.html", "WEB.example:80", 200, "web")
	wantGet(t, r, c, base+"/api/v1", "web.example", 200, "api")
	wantGet(t, r, c, base+"/", "x.apps.example", 200, "api")
	wantGet(t, r, c, base+"/", "a.b.apps.example", 200, "other") // one label only
	wantGet(t, r, c, base+"/", "unknown.example", 200, "other")
	wantGet(t, r, c, base+"/", "secure.example", http.StatusMovedPermanently, "") // per-backend redirect

	counts, err := netsim.DialCount(r.Client.Namespace, 5, r.LBAddr(10000).String(), 2*time.Second)
	if err != nil || counts["tcp-backend"] != 5 {
		t.Errorf("TCP frontend: %v, %v", counts, err)
	}

	// A new vhost to an existing backend: the map, no reload.
	before := r.Applier.Stats().Reloads
	cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: "new.example", Backend: "web"})
	if res := r.Apply(cfg); res.Reloaded || res.RuntimeChanges == 0 {
		t.Errorf("new vhost = %+v, want runtime only", res)
	}
	wantGet(t, r, c, base+"/", "new.example", 200, "web")
	if got := r.Applier.Stats().Reloads; got != before {
		t.Errorf("reloads %d -> %d for a new vhost", before, got)
	}

	// Stats page, exporter and health URI.
	stats := fmt.Sprintf("http://%s", r.LBAddr(9090))
	if code, body, err := r.Get(c, stats+"/metrics", ""); err != nil || code != 200 || !strings.Contains(body, "haproxy_backend_active_servers") {
		t.Errorf("/metrics = %d, %v; want the Prometheus exporter", code, err)
	}
	if code, body, err := r.Get(c, stats+"/haproxy?stats;csv", ""); err != nil || code != 200 || !strings.Contains(body, "web,s1") {
		t.Errorf("stats page = %d, %v", code, err)
	}
	wantGet(t, r, c, stats+"/_haproxy_health_check", "", 200, "")
}

// TestPrivilegedTLS: TLS with certificates made by the test, two vhosts
// told apart by SNI, redirect to HTTPS, HSTS.
func TestPrivilegedTLS(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{})
	app := r.Apps[0]
	web := haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, 8001), "web")
	api := haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, 8002), "api")
	webPEM := tlstest.SelfSigned(t, "web.example")
	apiPEM := tlstest.SelfSigned(t, "api.example")
	cfg := model.Config{
		Frontends: []model.Frontend{
			{Name: "https_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 443),
				TLS:    &model.TLS{Certs: []model.Cert{{Name: "web.pem", PEM: webPEM}, {Name: "api.pem", PEM: apiPEM}}},
				Routes: []model.Route{{Host: "web.example", Backend: "web"}, {Host: "api.example", Backend: "api"}}},
			{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 80), RedirectToHTTPS: true},
		},
		Backends: []model.Backend{
			{Name: "web", Mode: model.ModeHTTP, HSTS: true, Servers: []model.Server{web.Server("w1")}},
			{Name: "api", Mode: model.ModeHTTP, Servers: []model.Server{api.Server("a1")}},
		},
	}
	if res := r.Apply(cfg); !res.Reloaded || len(res.Problems) > 0 {
		t.Fatalf("Apply = %+v", res)
	}
	for _, tc := range []struct{ sni, body string }{{"web.example", "web"}, {"api.example", "api"}} {
		pool := tlstest.Pool(t, webPEM, apiPEM)
		c := r.HTTPClient(&tls.Config{ServerName: tc.sni, RootCAs: pool})
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://%s/", r.LBAddr(443)), nil)
		req.Host = tc.sni
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("HTTPS %s: %v", tc.sni, err)
			continue
		}
		resp.Body.Close()
		if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != tc.sni || resp.Header.Get("X-Backend") != tc.body {
			t.Errorf("HTTPS %s: certificate %s, backend %s", tc.sni, cn, resp.Header.Get("X-Backend"))
		}
		hsts := resp.Header.Get("Strict-Transport-Security")
		if (tc.body == "web") != (hsts != "") {
			t.Errorf("HTTPS %s: Strict-Transport-Security %q", tc.sni, hsts)
		}
	}
	resp, err := r.HTTPClient(nil).Get(fmt.Sprintf("http://%s/x?y=1", r.LBAddr(80)))
	if err != nil || resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
		t.Errorf("plain HTTP = %v, %v; want a 301 to https", resp, err)
	}

	// A third vhost with its own certificate joins without a reload, and
	// leaves again.
	shopPEM := tlstest.SelfSigned(t, "shop.example")
	reloads := r.Applier.Stats().Reloads
	cfg.Frontends[0].TLS.Certs = append(cfg.Frontends[0].TLS.Certs, model.Cert{Name: "shop.pem", PEM: shopPEM})
	cfg.Frontends[0].Routes = append(cfg.Frontends[0].Routes, model.Route{Host: "shop.example", Backend: "web"})
	if res := r.Apply(cfg); res.Reloaded || len(res.Problems) > 0 {
		t.Fatalf("new certificate = %+v, want runtime only", res)
	}
	servedCN := func(sni string) string {
		conn, err := r.Dial(context.Background(), "tcp", r.LBAddr(443).String())
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		defer tc.Close()
		if err := tc.Handshake(); err != nil {
			t.Fatalf("handshake %s: %v", sni, err)
		}
		return tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := servedCN("shop.example"); cn != "shop.example" {
		t.Errorf("SNI shop.example got certificate %s", cn)
	}
	cfg.Frontends[0].TLS.Certs = cfg.Frontends[0].TLS.Certs[:2]
	if res := r.Apply(cfg); res.Reloaded {
		t.Fatalf("removed certificate = %+v, want runtime only", res)
	}
	if cn := servedCN("shop.example"); cn != "web.example" {
		t.Errorf("SNI shop.example after removal got %s, want the default web.example", cn)
	}
	if got := r.Applier.Stats().Reloads; got != reloads {
		t.Errorf("reloads %d -> %d for adding and removing a certificate", reloads, got)
	}
}

// TestPrivilegedStickyAuthHealth: a sticky cookie pins a client to one
// server, basic auth guards a backend, and an HTTP health check takes a
// dead server out and back in.
func TestPrivilegedStickyAuthHealth(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{Apps: 2})
	var bs []*haproxytest.Backend
	for i, app := range r.Apps {
		for j := range 2 {
			bs = append(bs, haproxytest.ServeHTTP(t, app.Namespace, appAddr(app, uint16(8001+j)), fmt.Sprintf("b%d", 2*i+j+1)))
		}
	}
	var servers []model.Server
	for _, b := range bs {
		servers = append(servers, b.Server(b.Name))
	}
	cfg := model.Config{
		Frontends: []model.Frontend{{Name: "http_in", Mode: model.ModeHTTP, Bind: netip.AddrPortFrom(netip.Addr{}, 80),
			Routes: []model.Route{{Host: "shop.example", Backend: "shop"}, {Host: "admin.example", Backend: "admin"}}}},
		Backends: []model.Backend{
			{Name: "shop", Mode: model.ModeHTTP, Sticky: true, Servers: servers,
				Health: &model.HealthCheck{HTTP: true, Path: "/health", Interval: 200 * time.Millisecond, Rise: 2, Fall: 2}},
			{Name: "admin", Mode: model.ModeHTTP, Servers: servers[:1],
				Auth: &model.BasicAuth{Realm: "admin", User: "ops", PasswordHash: opsHash}},
		},
	}
	r.Apply(cfg)
	base := fmt.Sprintf("http://%s/", r.LBAddr(80))

	// Sticky: the first answer sets the cookie, every later one comes from
	// the same server.
	c := r.HTTPClient(nil)
	req, _ := http.NewRequest("GET", base, nil)
	req.Host = "shop.example"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "dcnet_server" {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatalf("no sticky cookie in %v", resp.Header)
	}
	pinned := resp.Header.Get("X-Backend")
	for range 20 {
		req, _ := http.NewRequest("GET", base, nil)
		req.Host = "shop.example"
		req.AddCookie(cookie)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Backend"); got != pinned {
			t.Fatalf("sticky client moved from %s to %s", pinned, got)
		}
	}

	// Basic auth.
	wantGet(t, r, c, base, "admin.example", http.StatusUnauthorized, "")
	req, _ = http.NewRequest("GET", base, nil)
	req.Host = "admin.example"
	req.SetBasicAuth("ops", "secret")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("with the password: %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req.SetBasicAuth("ops", "wrong")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with a wrong password: %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Health: b2 fails its check and gets no traffic, then comes back.
	bs[1].SetHealthy(false)
	seen := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			_, body, err := r.Get(c, base, "shop.example")
			if err != nil {
				t.Fatal(err)
			}
			got[body]++
		}
		return got
	}
	if err := netsim.WaitFor(context.Background(), 10*time.Second, 100*time.Millisecond, func() error {
		if got := seen(20); got["b2"] != 0 {
			return fmt.Errorf("b2 still answers: %v", got)
		}
		return nil
	}); err != nil {
		t.Fatalf("unhealthy server kept: %v", err)
	}
	bs[1].SetHealthy(true)
	if err := netsim.WaitFor(context.Background(), 10*time.Second, 100*time.Millisecond, func() error {
		if got := seen(20); got["b2"] == 0 {
			return fmt.Errorf("b2 not back: %v", got)
		}
		return nil
	}); err != nil {
		t.Fatalf("healthy server not back: %v", err)
	}
}

// opsHash is crypt(3) SHA-512 of "secret" with salt "dcnet" (openssl
// passwd -6 -salt dcnet secret).
const opsHash = "$6$dcnet$kJd6psQCg8ghtfth0TIzIA6QEHdiD5GGrEKAIc9kwgxnsVREEXpTiDshYZACoAh4rBwgn9T1DQ5SNieMF6hCm1"
