package overlayd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/overlayd/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestDaemonWithdraw: a withdraw deletes the endpoint record and waits
// for the applied key of every dcnet-l4lb: a node behind is waited for,
// within the bound, and reported; once it catches up (or has no key) the
// withdraw returns as soon as it acknowledges. The attachment keeps its
// addresses, is not published again until allocated again, and withdrawing
// an unknown one is fine.
func TestDaemonWithdraw(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	cfg := testConfig(t)
	cfg.WithdrawWait.Duration = 1500 * time.Millisecond
	d := startDaemon(t, cfg, t.TempDir(), t.TempDir())
	ctx := context.Background()
	id := api.AttachmentID{Network: "dcos", ContainerID: "c1", IfName: "eth0"}
	if _, err := d.client.Allocate(ctx, api.AllocateRequest{AttachmentID: id, Labels: map[string]string{"VIP_0": "/web:80"}}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, d.client, 1)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{cfg.Etcd.ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// A dcnet-l4lb on node b that never catches up.
	putApplied := func(node string, rev int64) {
		b, _ := json.Marshal(cluster.L4LBApplied{Node: node, Revision: rev})
		if _, err := cli.Put(ctx, cluster.L4LBAppliedKey(node), string(b)); err != nil {
			t.Fatal(err)
		}
	}
	putApplied("node-b", 1)
	start := time.Now()
	r, err := d.client.Withdraw(ctx, id)
	if err != nil || !r.Withdrawn || r.Revision == 0 || strings.Join(r.Pending, ",") != "node-b" || r.Acked != 0 {
		t.Fatalf("withdraw with a lagging node = %+v, %v", r, err)
	}
	if took := time.Since(start); took < cfg.WithdrawWait.Duration || took > cfg.WithdrawWait.Duration+2*time.Second {
		t.Errorf("withdraw with a lagging node took %v, want the %v bound", took, cfg.WithdrawWait.Duration)
	}
	if resp, _ := cli.Get(ctx, cluster.EndpointKey("node-a", "dcos", "c1", "eth0")); resp.Count != 0 {
		t.Errorf("endpoint record still there after the withdraw")
	}
	a, err := d.client.Attachment(ctx, id)
	if err != nil || !a.Withdrawn || len(a.IPs) == 0 {
		t.Errorf("attachment after the withdraw: %+v, %v", a, err)
	}
	// node-b catches up right after the next deletion: the withdraw
	// returns at once.
	if _, err := d.client.Allocate(ctx, api.AllocateRequest{AttachmentID: id}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, d.client, 1)
	go func() {
		for range 100 {
			resp, err := cli.Get(ctx, cluster.EndpointKey("node-a", "dcos", "c1", "eth0"))
			if err == nil && resp.Count == 0 {
				putApplied("node-b", resp.Header.Revision)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	r, err = d.client.Withdraw(ctx, id)
	if err != nil || r.Acked != 1 || len(r.Pending) != 0 || r.Waited >= cfg.WithdrawWait.Duration {
		t.Errorf("withdraw with node-b catching up = %+v, %v", r, err)
	}
	waitEndpoints(t, d.client, 0)
	time.Sleep(3 * cfg.ReconcileInterval.Duration)
	waitEndpoints(t, d.client, 0) // not republished by the periodic publish
	if r, err := d.client.Withdraw(ctx, api.AttachmentID{Network: "dcos", ContainerID: "none", IfName: "eth0"}); err != nil || r.Withdrawn {
		t.Errorf("withdraw of an unknown attachment = %+v, %v", r, err)
	}
	if ok, err := d.client.Release(ctx, id); err != nil || !ok {
		t.Errorf("release after the withdraw: %v %v", ok, err)
	}
}
