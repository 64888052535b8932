package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

func TestVIPsFromL4LB(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != l4lbapi.PathDetails {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(l4lbapi.Details{VIPs: []l4lbapi.VIPInfo{{VIP: "11.0.0.1:80", Protocol: "tcp", Port: 80,
			Name: "web.marathon.l4lb.thisdcos.directory", Address: "11.0.0.1", State: "active",
			Backends: []l4lbapi.BackendInfo{{IP: "9.0.1.2", Port: 80, Node: "a2", Active: true}, {IP: "9.0.2.2", Port: 80, Node: "a3"}}}},
			Refused: []l4lbapi.Refused{{VIP: "11.0.0.1:8080", Protocol: "tcp", Port: 8080, Address: "11.0.0.1",
				HeldBy: "web.marathon.l4lb.thisdcos.directory", Since: "2024-01-02T03:04:05Z",
				Backends: []l4lbapi.BackendInfo{{IP: "9.0.1.9", Port: 8080, Node: "a2", Active: true}}}}})
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	addr := strings.TrimPrefix(srv.URL, "http://")
	if code := Main(context.Background(), []string{"--l4lb", addr, "vips"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"11.0.0.1:80", "web.marathon.l4lb.thisdcos.directory", "9.0.1.2:80@a2", "9.0.2.2:80@a3(node gone)",
		"active", "11.0.0.1:8080", "REFUSED: address held by web.marathon.l4lb.thisdcos.directory since 2024-01-02T03:04:05Z", "9.0.1.9:8080@a2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := Main(context.Background(), []string{"--l4lb", "127.0.0.1:1", "vips"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "is it running?") {
		t.Fatalf("unreachable l4lb: exit %d, %q", code, errb.String())
	}
}
