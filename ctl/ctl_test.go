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
		if r.URL.Path != l4lbapi.PathVIPs {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode([]l4lbapi.VIPInfo{{VIP: "11.0.0.1:80", Protocol: "tcp", Port: 80,
			Name: "web.marathon.l4lb.thisdcos.directory", Address: "11.0.0.1",
			Backends: []l4lbapi.BackendInfo{{IP: "9.0.1.2", Port: 80, Node: "a2", Active: true}, {IP: "9.0.2.2", Port: 80, Node: "a3"}}}})
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	addr := strings.TrimPrefix(srv.URL, "http://")
	if code := Main(context.Background(), []string{"--l4lb", addr, "vips"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"11.0.0.1:80", "web.marathon.l4lb.thisdcos.directory", "9.0.1.2:80@a2", "9.0.2.2:80@a3(node gone)"} {
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
