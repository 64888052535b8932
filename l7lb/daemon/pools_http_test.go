package daemon

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/internal/marathontest"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/pools"
)

const poolYAML = `
name: web
haproxy:
  frontends:
  - {bindPort: 8080, protocol: HTTP, linkBackend: {defaultBackend: web}}
  backends:
  - name: web
    protocol: HTTP
    services:
    - marathon: {serviceID: /web}
`

// poolDaemon is a pool-mode daemon for the API (not run).
func poolDaemon(t *testing.T, store *cluster.Store, fa *FakeApplier) *Daemon {
	t.Helper()
	src, err := pools.NewSource(store, "web", t.TempDir(), time.Second, quiet())
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Pool: "web", PoolSource: src, PoolStore: pools.NewStore(store), Applier: fa, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPoolsAPI(t *testing.T) {
	store := etcdtest.Store(t)
	d := poolDaemon(t, store, &FakeApplier{})
	check := func(a answer, code int, contains ...string) {
		t.Helper()
		if a.code != code {
			t.Errorf("answer %d, want %d: %s", a.code, code, a.body)
		}
		for _, c := range contains {
			if !strings.Contains(a.body, c) {
				t.Errorf("answer lacks %q: %s", c, a.body)
			}
		}
	}
	check(do(t, d, http.MethodPost, l7lbapi.PathPools, poolYAML), http.StatusCreated, `"name": "web"`, `"revision"`)
	check(do(t, d, http.MethodPost, l7lbapi.PathPools, poolYAML), http.StatusConflict, `"code": "exists"`)
	check(get(t, d, l7lbapi.PathPools), http.StatusOK, `"bindPort": 8080`)
	check(get(t, d, l7lbapi.PathPool+"web"), http.StatusOK, `"apiVersion": "V2"`)
	check(get(t, d, l7lbapi.PathPool+"nope"), http.StatusNotFound, `"code": "not_found"`)
	check(get(t, d, l7lbapi.PathPool+"Bad_Name"), http.StatusNotFound)

	bad := do(t, d, http.MethodPost, l7lbapi.PathPools, `{"name":"x","haproxy":{"frontends":[{"bindPort":0,"protocol":"FTP"}],"backends":[]}}`)
	check(bad, http.StatusBadRequest, `"code": "invalid"`)
	var body l7lbapi.ErrorBody
	if err := json.Unmarshal([]byte(bad.body), &body); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, f := range body.Fields {
		fields = append(fields, f.Field)
	}
	if got := strings.Join(fields, ","); got != "haproxy.backends,haproxy.frontends[0].bindPort,haproxy.frontends[0].linkBackend,haproxy.frontends[0].protocol" {
		t.Errorf("fields %s", got)
	}

	upd := strings.Replace(poolYAML, "8080", "8081", 1)
	check(do(t, d, http.MethodPut, l7lbapi.PathPool+"web", upd), http.StatusOK, `"bindPort": 8081`)
	check(do(t, d, http.MethodPut, l7lbapi.PathPool+"other", upd), http.StatusBadRequest, `a pool cannot be renamed`)
	check(do(t, d, http.MethodPut, l7lbapi.PathPool+"api", strings.Replace(upd, "name: web", "name: api", 1)), http.StatusNotFound)
	check(do(t, d, http.MethodDelete, l7lbapi.PathPool+"web", ""), http.StatusNoContent)
	check(do(t, d, http.MethodDelete, l7lbapi.PathPool+"web", ""), http.StatusNotFound)
	check(do(t, d, http.MethodPost, l7lbapi.PathPools, strings.Repeat("x", l7lbapi.MaxPoolBytes+2)), http.StatusBadRequest, "at most")
}

func TestPoolsAPIWithoutStore(t *testing.T) {
	m := marathontest.ForTest(t)
	d := mlbDaemon(t, m, &FakeApplier{}, "")
	a := do(t, d, http.MethodPost, l7lbapi.PathPools, poolYAML)
	if a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "--etcd-endpoints") {
		t.Errorf("no store: %d %s", a.code, a.body)
	}
}

func TestPoolsAPIEtcdDown(t *testing.T) {
	store, stop := etcdtest.StoreStoppable(t)
	d := poolDaemon(t, store, &FakeApplier{})
	stop()
	a := do(t, d, http.MethodPost, l7lbapi.PathPools, poolYAML)
	if a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "unreachable") {
		t.Errorf("etcd down: %d %s", a.code, a.body)
	}
}
