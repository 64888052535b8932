package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/etcdtest"
)

func TestClusterRoutesWithoutStoreOrL4LB(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "api") })
	l4lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/vips" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `[{"vip":"11.0.0.1:80"}]`)
	}))
	h := WithClusterRoutes(api, strings.TrimPrefix(l4lb.URL, "http://"), nil)
	if code, body := get(t, h, "/v1/vips"); code != 200 || body != `[{"vip":"11.0.0.1:80"}]` {
		t.Errorf("/v1/vips = %d %q, want dcnet-l4lb's answer", code, body)
	}
	if code, body := get(t, h, "/v1/records"); code != 200 || body != "api" {
		t.Errorf("/v1/records = %d %q, want the DNS API", code, body)
	}
	if code, body := get(t, h, "/v1/nodes"); code != http.StatusServiceUnavailable || !strings.Contains(body, "--etcd-endpoints") {
		t.Errorf("/v1/nodes without etcd = %d %q", code, body)
	}
	l4lb.Close()
	if code, body := get(t, h, "/v1/vips"); code != http.StatusBadGateway || !strings.Contains(body, "does not answer") {
		t.Errorf("/v1/vips without dcnet-l4lb = %d %q", code, body)
	}
}

func TestClusterRoutesNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	s := etcdtest.Store(t)
	ctx := context.Background()
	for k, v := range map[string]string{
		cluster.NodesPrefix + "b": `{"name":"b","underlayIP":"198.18.0.2","vtepIP":"44.128.0.2"}`,
		cluster.NodesPrefix + "a": `{"name":"a","underlayIP":"198.18.0.1"}`,
		cluster.NodesPrefix + "c": `not json`,
		cluster.AlivePrefix + "a": `1`,
	} {
		if _, err := s.Client.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	code, body := get(t, WithClusterRoutes(http.NotFoundHandler(), "", s), "/v1/nodes")
	if code != 200 {
		t.Fatalf("/v1/nodes = %d %q", code, body)
	}
	var got []cluster.NodeState
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, n := range got {
		summary = append(summary, fmt.Sprintf("%s %s %s %t", n.Name, n.UnderlayIP, n.VTEPIP, n.Alive))
	}
	want := "a 198.18.0.1  true|b 198.18.0.2 44.128.0.2 false|c   false"
	if strings.Join(summary, "|") != want {
		t.Errorf("/v1/nodes = %q, want %q", strings.Join(summary, "|"), want)
	}
}
