package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/dns/dnsapi"
)

func TestRecordsFromDNS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != dnsapi.PathRecords {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode([]dnsapi.Record{
			{Zone: "spartan.", Name: "ready.spartan.", Type: "A", TTL: 5, Value: "127.0.0.1"},
			{Zone: "dcos.thisdcos.directory.", Name: "web.marathon.containerip.dcos.thisdcos.directory.", Type: "AAAA", TTL: 5, Value: "fd01:b::2"},
		})
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	addr := strings.TrimPrefix(srv.URL, "http://")
	if code := Main(context.Background(), []string{"--dns", addr, "records"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 rows:\n%s", out.String())
	}
	for i, want := range [][]string{
		{"ZONE", "NAME", "TYPE", "TTL", "VALUE"},
		{"spartan.", "ready.spartan.", "A", "5", "127.0.0.1"},
		{"dcos.thisdcos.directory.", "web.marathon.containerip.dcos.thisdcos.directory.", "AAAA", "5", "fd01:b::2"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d: %q, want %q", i, got, want)
		}
	}
	out.Reset()
	if code := Main(context.Background(), []string{"--dns", srv.URL, "-o", "json", "records"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"name": "ready.spartan."`) {
		t.Errorf("json: exit %d:\n%s", code, out.String())
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"--dns", "127.0.0.1:1", "records"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "pass --dns") {
		t.Errorf("unreachable dcnet-dns: exit %d, %q", code, errb.String())
	}
}
