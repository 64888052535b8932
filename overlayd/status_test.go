package overlayd

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestDaemonStatusNamesStore: the status says where the store is (the
// embedded member's client URL) and, once the node records are read, that
// the peer list is known; dcnetctl doctor relies on both.
func TestDaemonStatusNamesStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	cfg := testConfig(t)
	d := startDaemon(t, cfg, t.TempDir(), t.TempDir())
	defer d.stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := d.client.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.StoreEndpoints, []string{cfg.Etcd.ClientURL}) || st.Store != "embedded" {
			t.Fatalf("store %q endpoints %q, want embedded at %s", st.Store, st.StoreEndpoints, cfg.Etcd.ClientURL)
		}
		if !st.PeersUnknown {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("peer list still unknown after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
