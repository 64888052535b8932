package overlayd

import (
	"context"
	"testing"
	"time"

	"github.com/dcnet/dcnet/overlayd/api"
)

// TestDaemonUpdateRekeysAttachment: /v1/update moves an attachment to a new
// ID with new labels, is idempotent, and the endpoint record follows.
func TestDaemonUpdateRekeysAttachment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	d := startDaemon(t, testConfig(t), t.TempDir(), t.TempDir())
	ctx := context.Background()
	prov := api.AttachmentID{Network: "dcos", ContainerID: "cnm-0242ac110002", IfName: "docker"}
	r, err := d.client.Allocate(ctx, api.AllocateRequest{AttachmentID: prov, Config: "docker:dcos", Runtime: api.RuntimeDocker})
	if err != nil {
		t.Fatal(err)
	}
	to := api.AttachmentID{Network: "dcos", ContainerID: "ep1", IfName: "docker"}
	req := api.UpdateRequest{AttachmentID: prov, To: &to, Labels: map[string]string{"VIP_0": "/web:80"}}
	for i := 0; i < 2; i++ {
		a, err := d.client.Update(ctx, req)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if a.AttachmentID != to || a.IPs[0] != r.Attachment.IPs[0] || a.Labels["VIP_0"] != "/web:80" || a.Config != "docker:dcos" {
			t.Fatalf("update %d: %+v", i, a)
		}
	}
	if _, err := d.client.Attachment(ctx, prov); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("old ID: %v", err)
	}
	// The record follows (the provisional one may still be published at first).
	var eps []api.Endpoint
	for i := 0; i < 250; i++ {
		eps, _ = d.client.Endpoints(ctx)
		if len(eps) == 1 && eps[0].ContainerID == "ep1" && eps[0].Labels["VIP_0"] == "/web:80" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(eps) != 1 || eps[0].ContainerID != "ep1" || eps[0].Labels["VIP_0"] != "/web:80" {
		t.Fatalf("endpoint records: %+v", eps)
	}
	missing := api.UpdateRequest{AttachmentID: api.AttachmentID{Network: "dcos", ContainerID: "nope", IfName: "docker"}}
	if _, err := d.client.Update(ctx, missing); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown attachment: %v", err)
	}
	other := api.AttachmentID{Network: "dcos6", ContainerID: "ep1", IfName: "docker"}
	if _, err := d.client.Update(ctx, api.UpdateRequest{AttachmentID: to, To: &other}); !api.IsCode(err, api.CodeInvalid) {
		t.Fatalf("move across networks: %v", err)
	}
}
