package labels

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dcnet/dcnet/l7lb/model"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		n      int
		strict bool
		want   Service
		notes  []string
	}{
		{name: "no labels", want: Service{Enabled: true}},
		{name: "strict mode disables", strict: true, want: Service{}},
		{name: "strict mode, enabled", strict: true, labels: map[string]string{"HAPROXY_0_ENABLED": "true"}, want: Service{Enabled: true}},
		{name: "disabled", labels: map[string]string{"HAPROXY_0_ENABLED": "No"}, want: Service{}},
		{name: "app group", labels: map[string]string{"HAPROXY_GROUP": "external, internal"},
			want: Service{Enabled: true, Groups: []string{"external", "internal"}}},
		{name: "port group overrides app group", n: 1,
			labels: map[string]string{"HAPROXY_GROUP": "internal", "HAPROXY_1_GROUP": "external", "HAPROXY_0_GROUP": "x"},
			want:   Service{Enabled: true, Groups: []string{"external"}}},
		{name: "vhosts lower-cased and split", labels: map[string]string{"HAPROXY_0_VHOST": "Web.Example.com, *.api.example.com,"},
			want: Service{Enabled: true, VHosts: []string{"web.example.com", "*.api.example.com"}}},
		{name: "paths set the weight", labels: map[string]string{"HAPROXY_0_PATH": "/api /v2/api"},
			want: Service{Enabled: true, Paths: []string{"/api", "/v2/api"}, BackendWeight: 1}},
		{name: "path flag ignored", labels: map[string]string{"HAPROXY_0_PATH": "-i /api"},
			want:  Service{Enabled: true, Paths: []string{"/api"}, BackendWeight: 1},
			notes: []string{"HAPROXY_0_PATH: path_beg flag -i is ignored"}},
		{name: "explicit weight wins", labels: map[string]string{"HAPROXY_0_PATH": "/a", "HAPROXY_0_BACKEND_WEIGHT": "-3"},
			want: Service{Enabled: true, Paths: []string{"/a"}, BackendWeight: -3}},
		{name: "mode and balance", labels: map[string]string{"HAPROXY_0_MODE": "HTTP", "HAPROXY_0_BALANCE": "leastconn"},
			want: Service{Enabled: true, Mode: model.ModeHTTP, Balance: "leastconn"}},
		{name: "bind address and port", labels: map[string]string{"HAPROXY_0_BIND_ADDR": "10.0.0.42", "HAPROXY_0_PORT": "8080"},
			want: Service{Enabled: true, BindAddr: netip.MustParseAddr("10.0.0.42"), Port: 8080}},
		{name: "bind every address", labels: map[string]string{"HAPROXY_0_BIND_ADDR": "*"}, want: Service{Enabled: true}},
		{name: "tls and http options", labels: map[string]string{"HAPROXY_0_SSL_CERT": "/etc/ssl/web.pem", "HAPROXY_0_STICKY": "true",
			"HAPROXY_0_REDIRECT_TO_HTTPS": "Y", "HAPROXY_0_USE_HSTS": "t"},
			want: Service{Enabled: true, SSLCert: "/etc/ssl/web.pem", Sticky: true, RedirectToHTTPS: true, HSTS: true}},
		{name: "auth", labels: map[string]string{"HAPROXY_0_AUTH": "Members only:alice:$6$salt$hash"},
			want: Service{Enabled: true, Auth: &model.BasicAuth{Realm: "Members only", User: "alice", PasswordHash: "$6$salt$hash"}}},
		{name: "other port's labels do not count", n: 0, labels: map[string]string{"HAPROXY_1_VHOST": "a.example"}, want: Service{Enabled: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes, err := Parse(tt.labels, tt.n, tt.strict)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			if len(notes) != len(tt.notes) {
				t.Fatalf("notes %v, want %v", notes, tt.notes)
			}
			for i := range notes {
				if !strings.HasPrefix(notes[i].String(), tt.notes[i]) {
					t.Errorf("note %q, want prefix %q", notes[i], tt.notes[i])
				}
			}
		})
	}
}

func TestParseBadLabels(t *testing.T) {
	tests := []struct {
		label, value, want string
	}{
		{"HAPROXY_0_ENABLED", "ture", `HAPROXY_0_ENABLED="ture": want true or false`},
		{"HAPROXY_0_STICKY", "1", `HAPROXY_0_STICKY="1": want true or false`},
		{"HAPROXY_0_VHOST", "web example.com", `is not a host name`},
		{"HAPROXY_0_VHOST", "web.example.com:80", `is not a host name`},
		{"HAPROXY_0_PATH", "api", `"api" does not start with '/'`},
		{"HAPROXY_0_MODE", "udp", `HAPROXY_0_MODE="udp": want tcp or http`},
		{"HAPROXY_0_BALANCE", "hdr(host)", `want roundrobin, leastconn`},
		{"HAPROXY_0_BIND_ADDR", "localhost", `want an IP address or *`},
		{"HAPROXY_0_BIND_ADDR", "fe80::1%eth0", `want an IP address or *`},
		{"HAPROXY_0_PORT", "0", `want a port in [1, 65535]`},
		{"HAPROXY_0_PORT", "65536", `want a port in [1, 65535]`},
		{"HAPROXY_0_PORT", "http", `want a port in [1, 65535]`},
		{"HAPROXY_0_SSL_CERT", "cert.pem", `want the absolute path`},
		{"HAPROXY_0_AUTH", "realm:user", `want realm:user:password-hash`},
		{"HAPROXY_0_AUTH", "realm::hash", `want realm:user:password-hash`},
		{"HAPROXY_0_AUTH", "a:b:c:d", `want realm:user:password-hash`},
		{"HAPROXY_0_BACKEND_WEIGHT", "heavy", `HAPROXY_0_BACKEND_WEIGHT="heavy": want an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.label+"="+tt.value, func(t *testing.T) {
			_, _, err := Parse(map[string]string{tt.label: tt.value}, 0, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestParseAllErrorsAtOnce: every bad label of a port is reported, so a
// user fixes them in one round.
func TestParseAllErrorsAtOnce(t *testing.T) {
	_, _, err := Parse(map[string]string{"HAPROXY_0_PORT": "x", "HAPROXY_0_MODE": "udp", "HAPROXY_0_STICKY": "maybe"}, 0, false)
	if err == nil {
		t.Fatal("no error")
	}
	for _, l := range []string{"HAPROXY_0_PORT", "HAPROXY_0_MODE", "HAPROXY_0_STICKY"} {
		if !strings.Contains(err.Error(), l) {
			t.Errorf("error %q does not name %s", err, l)
		}
	}
}

func TestNotes(t *testing.T) {
	got := Notes(map[string]string{
		"HAPROXY_GROUP":                    "external",
		"HAPROXY_0_VHOST":                  "web.example.com",
		"HAPROXY_0_FRONTEND_HEAD":          "frontend x",
		"HAPROXY_0_BIND_OPTIONS":           "ciphers X",
		"HAPROXY_1_VHOST":                  "other.example.com",
		"HAPROXY_DEPLOYMENT_GROUP":         "web",
		"HAPROXY_0_NOPE":                   "x",
		"HAPROXY_X_VHOST":                  "x",
		"HAPROXY_00_VHOST":                 "x",
		"VIP_0":                            "/web:80",
		"HAPROXY_0_BACKEND_SERVER_OPTIONS": "x",
	}, 1)
	var labels []string
	for _, n := range got {
		labels = append(labels, n.Label)
		if n.Hint == "" {
			t.Errorf("note %s has no hint", n.Label)
		}
	}
	want := []string{"HAPROXY_00_VHOST", "HAPROXY_0_BACKEND_SERVER_OPTIONS", "HAPROXY_0_BIND_OPTIONS", "HAPROXY_0_FRONTEND_HEAD",
		"HAPROXY_0_NOPE", "HAPROXY_1_VHOST", "HAPROXY_DEPLOYMENT_GROUP", "HAPROXY_X_VHOST"}
	if diff := cmp.Diff(want, labels); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	for _, n := range got {
		if n.Label == "HAPROXY_0_FRONTEND_HEAD" && !strings.Contains(n.Hint, "templates are not supported") {
			t.Errorf("template note: %s", n)
		}
		if n.Label == "HAPROXY_1_VHOST" && !strings.Contains(n.Hint, "there is no port 1") {
			t.Errorf("missing port note: %s", n)
		}
	}
}
