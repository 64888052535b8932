package collect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/overlayd/api"
)

func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		given []string
		st    *api.Status
		want  []string
		err   bool
	}{
		{"flag wins", []string{"https://m1:2379"}, &api.Status{StoreEndpoints: []string{"http://x:2379"}}, []string{"https://m1:2379"}, false},
		{"overlayd's endpoints", nil, &api.Status{Store: "embedded", StoreEndpoints: []string{"http://127.0.0.1:2399"}}, []string{"http://127.0.0.1:2399"}, false},
		{"an older overlayd: its store field", nil, &api.Status{Store: "http://m1:2379,http://m2:2379"}, []string{"http://m1:2379", "http://m2:2379"}, false},
		{"an older overlayd, embedded", nil, &api.Status{Store: "embedded"}, []string{DefaultEmbeddedEndpoint}, false},
		{"no overlayd, no flag", nil, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Endpoints(tc.given, tc.st)
			if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
				t.Errorf("Endpoints = %q, %v; want %q (error %v)", got, err, tc.want, tc.err)
			}
			if err != nil && !strings.Contains(err.Error(), "--etcd-endpoints") {
				t.Errorf("error %q does not say what to pass", err)
			}
		})
	}
}

func TestDNSServer(t *testing.T) {
	for in, want := range map[string]string{"198.51.100.1": "198.51.100.1:53", "198.51.100.1:5353": "198.51.100.1:5353",
		"fd01:d::c633:6401": "[fd01:d::c633:6401]:53", "[fd01:d::1]:53": "[fd01:d::1]:53"} {
		if got := DNSServer(in); got != want {
			t.Errorf("DNSServer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTTPSources(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case l4lbapi.PathDetails:
			json.NewEncoder(w).Encode(l4lbapi.Details{VIPs: []l4lbapi.VIPInfo{{VIP: "11.0.0.1:80", Protocol: "tcp", Port: 80, Address: "11.0.0.1"}}})
		case dnsapi.PathRecords:
			w.Write([]byte("not json"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	d, err := (&L4LB{Addr: addr}).Details(context.Background())
	if err != nil || len(d.VIPs) != 1 || d.VIPs[0].Address != "11.0.0.1" {
		t.Errorf("Details = %+v, %v", d, err)
	}
	if _, err := (&DNS{Addr: srv.URL}).Records(context.Background()); err == nil || !strings.Contains(err.Error(), "decode dcnet-dns's /v1/records") {
		t.Errorf("garbage records: %v", err)
	}
	if _, err := (&L4LB{Addr: "127.0.0.1:1"}).Details(context.Background()); err == nil || !strings.Contains(err.Error(), "pass --l4lb") {
		t.Errorf("unreachable dcnet-l4lb: %v", err)
	}
}

// fakeNFT writes an nft stand-in that prints stdout and stderr and exits
// with code.
func fakeNFT(t *testing.T, stdoutFile, stderr string, code int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nft")
	script := "#!/bin/sh\n"
	if stdoutFile != "" {
		script += "cat " + stdoutFile + "\n"
	}
	script += "echo '" + stderr + "' >&2\nexit " + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNFTTable(t *testing.T) {
	fixture, err := filepath.Abs("../testdata/nft-ip.json")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := (&Kernel{NFT: fakeNFT(t, fixture, "", 0)}).NFTTable("ip")
	if err != nil || !tb.Present || len(tb.VIPs) != 3 {
		t.Errorf("table: %+v, %v", tb, err)
	}
	tb, err = (&Kernel{NFT: fakeNFT(t, "", "Error: No such file or directory", 1)}).NFTTable("ip6")
	if err != nil || tb.Present {
		t.Errorf("no table: %+v, %v", tb, err)
	}
	if _, err := (&Kernel{NFT: fakeNFT(t, "", "Error: Operation not permitted", 1)}).NFTTable("ip"); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("nft failing: %v", err)
	}
	if _, err := (&Kernel{NFT: "dcnet-no-such-nft"}).NFTTable("ip"); err == nil || !strings.Contains(err.Error(), "install nftables") {
		t.Errorf("no nft: %v", err)
	}
}
