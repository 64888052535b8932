package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/l4lb/vip"
)

func endpointJSON(t *testing.T, i int, vipLabel string) string {
	t.Helper()
	ep := cluster.Endpoint{
		Network: "dcos", ContainerID: fmt.Sprintf("c%d", i), IfName: "eth0",
		IPs:    []cluster.EndpointIP{{Address: fmt.Sprintf("9.0.%d.2/24", i)}},
		Labels: map[string]string{"VIP_0": vipLabel},
		Node:   "a1", NodeIP: "198.18.0.1"}
	b, err := json.Marshal(ep)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRecordCache checks the paged read, that a record is decoded once
// per revision (also across a resync), and that changes and deletes are
// followed.
func TestRecordCache(t *testing.T) {
	old := recordPage
	recordPage = 7
	t.Cleanup(func() { recordPage = old })
	s := etcdtest.Store(t)
	ctx := t.Context()
	const n = 20
	key := func(i int) string { return fmt.Sprintf("%sa1/dcos/c%02d/eth0", cluster.EndpointsPrefix, i) }
	for i := range n {
		if _, err := s.Client.Put(ctx, key(i), endpointJSON(t, i, "/web:80")); err != nil {
			t.Fatal(err)
		}
	}
	var decodes atomic.Int64
	dec := decodeEndpointRecord(quiet)
	c := newRecordCache(s, cluster.EndpointsPrefix, "endpoint", func(k string, v []byte) ([]vip.Binding, error) {
		decodes.Add(1)
		return dec(k, v)
	}, quiet)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	count := func(port uint16) (records, bindings int) {
		for _, bs := range c.Bindings(nil) {
			records++
			for _, b := range bs {
				if b.VIP.Port == port {
					bindings++
				}
			}
		}
		return records, bindings
	}
	eventually(t, "all records read", func() error {
		if r, b := count(80); !c.Synced() || r != n || b != n {
			return fmt.Errorf("synced %t, %d records, %d bindings on port 80", c.Synced(), r, b)
		}
		return nil
	})
	if got := decodes.Load(); got != n {
		t.Errorf("%d decodes after the first read, want %d", got, n)
	}
	if _, err := s.Client.Put(ctx, key(3), endpointJSON(t, 3, "/web:8080")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Delete(ctx, key(4)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "change and delete seen", func() error {
		if r, b := count(8080); r != n-1 || b != 1 {
			return fmt.Errorf("%d records, %d bindings on port 8080", r, b)
		}
		return nil
	})
	if got := decodes.Load(); got != n+1 {
		t.Errorf("%d decodes after one change, want %d", got, n+1)
	}
	if _, err := c.mirror.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if got := decodes.Load(); got != n+1 {
		t.Errorf("%d decodes after a resync of unchanged records, want %d", got, n+1)
	}
	if r, _ := count(80); r != n-1 {
		t.Errorf("%d records after the resync, want %d", r, n-1)
	}
}
