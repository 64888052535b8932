package pools

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/internal/eventually"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
)

const webPool = `
name: web
haproxy:
  frontends:
  - {bindPort: 80, protocol: HTTP, linkBackend: {defaultBackend: web}}
  backends:
  - {name: web, protocol: HTTP, services: [{marathon: {serviceID: /web}}]}
`

func TestStoreCRUD(t *testing.T) {
	s := NewStore(etcdtest.Store(t))
	ctx := context.Background()
	e, err := s.Create(ctx, []byte(webPool))
	if err != nil || e.Pool.Name != "web" || e.Revision == 0 {
		t.Fatalf("create: %+v %v", e, err)
	}
	if _, err := s.Create(ctx, []byte(webPool)); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	var ve *l7lbapi.ValidationError
	if _, err := s.Create(ctx, []byte("name: x\nhaproxy: {}\n")); !errors.As(err, &ve) || len(ve.Errors) != 2 {
		t.Errorf("invalid create: %v", err)
	}
	upd := strings.Replace(webPool, "bindPort: 80", "bindPort: 8080", 1)
	if e, err = s.Update(ctx, "web", []byte(upd)); err != nil || e.Pool.HAProxy.Frontends[0].BindPort != 8080 {
		t.Fatalf("update: %+v %v", e, err)
	}
	if _, err := s.Update(ctx, "other", []byte(upd)); !errors.As(err, &ve) || ve.Errors[0].Field != "name" {
		t.Errorf("update under another name: %v", err)
	}
	if _, err := s.Update(ctx, "api", []byte(strings.Replace(upd, "name: web", "name: api", 1))); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing pool: %v", err)
	}
	got, err := s.Get(ctx, "web")
	if err != nil || got.Pool.HAProxy.Frontends[0].BindPort != 8080 {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	if _, err := s.Create(ctx, []byte(strings.Replace(webPool, "name: web", "name: web2", 1))); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Pool.Name != "web" || list[1].Pool.Name != "web2" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := s.Delete(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "web2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestStoreUnavailable(t *testing.T) {
	store, stop := etcdtest.StoreStoppable(t)
	stop()
	s := NewStore(store)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if _, err := s.Create(ctx, []byte(webPool)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("create with etcd down: %v", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("list with etcd down: %v", err)
	}
}

// TestSource: an instance follows its pool (not another whose name
// starts the same), keeps the last good document when an invalid one is
// stored, keeps a disk copy, and a new instance with etcd down serves
// the disk copy.
func TestSource(t *testing.T) {
	store, stop := etcdtest.StoreStoppable(t)
	st := NewStore(store)
	ctx := context.Background()
	dir := t.TempDir()
	src, err := NewSource(store, "web", dir, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); src.Run(rctx) }()
	defer func() { cancel(); <-done }()
	eventually.True(t, 5*time.Second, "synced", src.Synced)
	if _, ok, _ := src.Pool(); ok {
		t.Fatal("a pool before it was created")
	}
	if _, err := st.Create(ctx, []byte(webPool)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "created pool", func() bool { _, ok, _ := src.Pool(); return ok })
	if _, err := st.Create(ctx, []byte(strings.Replace(webPool, "name: web", "name: web2", 1))); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Client.Put(ctx, cluster.PoolKey("web"), `{"name":"web","haproxy":{"frontends":[{"bindPort":0}]}}`); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "invalid document reported", func() bool { return src.Problem() != "" })
	if p, ok, _ := src.Pool(); !ok || p.HAProxy.Frontends[0].BindPort != 80 {
		t.Errorf("last good pool not kept: %+v", p)
	}
	if src.Errors()[errInvalid] == 0 {
		t.Error("invalid document not counted")
	}
	disk, err := os.ReadFile(filepath.Join(dir, "pool-web.json"))
	if err != nil || !strings.Contains(string(disk), `"bindPort": 80`) {
		t.Fatalf("disk copy: %s %v", disk, err)
	}

	// A restart with etcd down serves the disk copy.
	stop()
	again, err := NewSource(store, "web", dir, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok, fromDisk := again.Pool(); !ok || !fromDisk || p.Name != "web" || !again.Synced() {
		t.Errorf("disk copy not in force: %+v ok=%v fromDisk=%v", p, ok, fromDisk)
	}
}
