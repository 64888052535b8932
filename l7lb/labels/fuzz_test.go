package labels

import (
	"strings"
	"testing"
)

// FuzzParse: any label value either parses or gives an error naming the
// label; what parses is what the builder relies on (hosts lower-case,
// paths absolute, ports in range); Notes never lists a supported label
// of an existing port. Never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ key, value string }{
		{"VHOST", "web.example.com,Api.Example.COM"}, {"PATH", "-i /a /b"}, {"PORT", "80"}, {"AUTH", "r:u:$1$x"},
		{"BIND_ADDR", "::1"}, {"MODE", "http"}, {"BACKEND_WEIGHT", "-1"}, {"ENABLED", "y"}, {"SSL_CERT", "/a/../b.pem"},
	} {
		f.Add(s.key, s.value)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		label := "HAPROXY_0_" + key
		s, _, err := Parse(map[string]string{label: value}, 0, false)
		if err != nil {
			if !strings.Contains(err.Error(), label) {
				t.Fatalf("error %q does not name %s", err, label)
			}
			return
		}
		for _, h := range s.VHosts {
			if h != strings.ToLower(h) || h == "" || strings.ContainsAny(h, " ,:/") {
				t.Fatalf("vhost %q", h)
			}
		}
		for _, p := range s.Paths {
			if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t\n") {
				t.Fatalf("path %q", p)
			}
		}
		if s.Port < 0 || s.Port > 65535 {
			t.Fatalf("port %d", s.Port)
		}
		if s.Auth != nil && (s.Auth.User == "" || strings.Contains(s.Auth.User, ":")) {
			t.Fatalf("auth %+v", s.Auth)
		}
		for _, n := range Notes(map[string]string{label: value}, 1) {
			if supported[key] {
				t.Fatalf("note %v for a supported label", n)
			}
		}
	})
}
