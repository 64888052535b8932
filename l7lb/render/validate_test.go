package render

import (
	"strings"
	"testing"

	"github.com/dcnet/dcnet/internal/tlstest"
	"github.com/dcnet/dcnet/l7lb/model"
)

func TestValidate(t *testing.T) {
	good := tlstest.SelfSigned(t, "web.example")
	other := tlstest.SelfSigned(t, "other.example")
	web := model.Backend{Name: "web", Mode: model.ModeHTTP, Servers: servers(1, "9.0.1.")}
	db := model.Backend{Name: "db", Mode: model.ModeTCP, Servers: servers(1, "9.0.2.")}
	httpFE := func(routes ...model.Route) model.Frontend {
		return model.Frontend{Name: "http_in", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:80"), Routes: routes}
	}
	tests := []struct {
		name string
		cfg  model.Config
		// want are "kind name: reason substring" of the problems, in order.
		want []string
		// kept counts the frontends, backends and routes left.
		frontends, backends, routes int
	}{
		{name: "all good", cfg: model.Config{Frontends: []model.Frontend{httpFE(model.Route{Host: "web.example", Backend: "web"})}, Backends: []model.Backend{web}},
			frontends: 1, backends: 1, routes: 1},
		{name: "bad backend name and its route", cfg: model.Config{
			Frontends: []model.Frontend{httpFE(model.Route{Host: "a.example", Backend: "bad name"}, model.Route{Host: "web.example", Backend: "web"})},
			Backends:  []model.Backend{{Name: "bad name", Mode: model.ModeHTTP}, web}},
			want:      []string{"backend bad name: use 1-100", "route http_in:a.example: does not exist"},
			frontends: 1, backends: 1, routes: 1},
		{name: "bad balance, weight, key, address", cfg: model.Config{Backends: []model.Backend{
			{Name: "b1", Mode: model.ModeHTTP, Balance: "fastest"},
			{Name: "b2", Mode: model.ModeHTTP, Servers: []model.Server{{Key: "t", Addr: ap("9.0.0.1:80"), Weight: 300}}},
			{Name: "b3", Mode: model.ModeHTTP, Servers: []model.Server{{Key: "t", Addr: ap("9.0.0.1:80")}, {Key: "t", Addr: ap("9.0.0.2:80")}}},
			{Name: "b4", Mode: model.ModeHTTP, Servers: []model.Server{{Key: "t", Addr: ap("0.0.0.0:80")}}},
			{Name: "b5", Mode: "udp"},
			{Name: "b6", Mode: model.ModeTCP, Sticky: true},
		}}, want: []string{"backend b1: balance", "backend b2: weight 300", "backend b3: appears twice", "backend b4: needs an IP", "backend b5: mode", "backend b6: need mode http"}},
		{name: "bad auth and health", cfg: model.Config{Backends: []model.Backend{
			{Name: "a1", Mode: model.ModeHTTP, Auth: &model.BasicAuth{User: "a b", PasswordHash: "x"}},
			{Name: "a2", Mode: model.ModeHTTP, Auth: &model.BasicAuth{User: "ab", PasswordHash: "it's"}},
			{Name: "h1", Mode: model.ModeHTTP, Health: &model.HealthCheck{HTTP: true, Path: "no-slash"}},
		}}, want: []string{"backend a1: auth user", "backend a2: quotes", "backend h1: health check path"}},
		{name: "routes: host, path, mode, duplicate", cfg: model.Config{
			Frontends: []model.Frontend{httpFE(
				model.Route{Host: "bad_host!", Backend: "web"},
				model.Route{Host: "web.example", PathPrefix: "api", Backend: "web"},
				model.Route{Host: "db.example", Backend: "db"},
				model.Route{Host: "web.example", Backend: "web"},
				model.Route{Host: "WEB.example", PathPrefix: "/", Backend: "web"},
			)},
			Backends: []model.Backend{web, db}},
			want:      []string{"route http_in:web.exampleapi: path", "route http_in:bad_host!: host", "route http_in:db.example: has mode tcp", "route http_in:web.example: same host and path"},
			frontends: 1, backends: 2, routes: 1},
		{name: "tls: bad cert dropped, frontend kept; no cert left drops it", cfg: model.Config{
			Frontends: []model.Frontend{
				{Name: "https_in", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:443"), TLS: &model.TLS{Certs: []model.Cert{{Name: "bad.pem", PEM: []byte("junk")}, {Name: "web.pem", PEM: good}}}},
				{Name: "https2", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:8443"), TLS: &model.TLS{Certs: []model.Cert{{Name: "web.pem", PEM: other}}}},
			}},
			want:      []string{"cert bad.pem: frontend https_in: not a PEM", "cert web.pem: same name", "frontend https2: without a valid certificate"},
			frontends: 1},
		{name: "frontends: duplicate bind, tcp routes, default mode, redirect", cfg: model.Config{
			Frontends: []model.Frontend{
				httpFE(),
				{Name: "again", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:80")},
				{Name: "tcp_in", Mode: model.ModeTCP, Bind: ap("0.0.0.0:9000"), Default: "web", Routes: []model.Route{{Host: "x.example", Backend: "db"}}},
				{Name: "tcp_redirect", Mode: model.ModeTCP, Bind: ap("0.0.0.0:9001"), RedirectToHTTPS: true},
				{Name: "web", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:9002")},
				{Name: "dcnet_stats", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:9003")},
			},
			Backends: []model.Backend{web, db}},
			want: []string{"frontend again: already taken by frontend http_in", "frontend tcp_in: default backend \"web\" has mode http",
				"route tcp_in:x.example: without TLS", "frontend tcp_redirect: redirect", "frontend web: a backend has the same name", "frontend dcnet_stats: reserved"},
			frontends: 2, backends: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := Validate(tt.cfg)
			if len(problems) != len(tt.want) {
				t.Fatalf("problems = %v, want %d: %v", problems, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				p := problems[i]
				head, reason, _ := strings.Cut(w, ": ")
				if p.Kind+" "+p.Name != head || !strings.Contains(p.Reason, reason) {
					t.Errorf("problem %d = %+v, want %q", i, p, w)
				}
			}
			routes := 0
			for _, f := range got.Frontends {
				routes += len(f.Routes)
			}
			if len(got.Frontends) != tt.frontends || len(got.Backends) != tt.backends || routes != tt.routes {
				t.Errorf("kept %d frontends, %d backends, %d routes; want %d, %d, %d", len(got.Frontends), len(got.Backends), routes, tt.frontends, tt.backends, tt.routes)
			}
		})
	}
}

func FuzzValidateRoute(f *testing.F) {
	f.Add("web.example", "/api")
	f.Add("*.x.example", "")
	f.Fuzz(func(t *testing.T, host, path string) {
		cfg := model.Config{
			Frontends: []model.Frontend{{Name: "fe", Mode: model.ModeHTTP, Bind: ap("0.0.0.0:80"), Routes: []model.Route{{Host: host, PathPrefix: path, Backend: "b"}}}},
			Backends:  []model.Backend{{Name: "b", Mode: model.ModeHTTP}},
		}
		got, _ := Validate(cfg)
		for _, r := range got.Frontends[0].Routes {
			k := MapKey(model.ModeHTTP, r)
			if strings.ContainsAny(k, " \t\n\r") || k == "" {
				t.Fatalf("route %+v gives map key %q", r, k)
			}
		}
	})
}
