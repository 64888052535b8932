package lease

import (
	"context"
	"errors"
	"fmt"
	"github.com/dcnet/dcnet/plugins/internal/plugintest"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/internal/fakeoverlayd"
)

func TestCNIError(t *testing.T) {
	const sock = "/run/dcnet/overlayd.sock"
	unreachable := fmt.Errorf("%w at %s: dial unix %s: connect: no such file or directory (is overlayd running?)", api.ErrUnreachable, sock, sock)
	tests := []struct {
		name string
		err  error
		want *types.Error
	}{
		{"unreachable", unreachable, &types.Error{Code: types.ErrTryAgainLater,
			Msg: "allocate dcos/c1/eth0: overlayd is not reachable at /run/dcnet/overlayd.sock: dial unix /run/dcnet/overlayd.sock: connect: no such file or directory (is overlayd running?)"}},
		{"exhausted", &api.Error{Status: 503, Code: api.CodeExhausted, Msg: "no free address in 9.0.3.0/24 of network dcos"},
			&types.Error{Code: CodeSubnetExhausted, Msg: "allocate dcos/c1/eth0: overlayd: no free address in 9.0.3.0/24 of network dcos"}},
		{"invalid", &api.Error{Status: 400, Code: api.CodeInvalid, Msg: `unknown network "x"`},
			&types.Error{Code: types.ErrInvalidNetworkConfig, Msg: `allocate dcos/c1/eth0: overlayd: unknown network "x"`}},
		{"unavailable", &api.Error{Status: 503, Code: api.CodeUnavailable, Msg: "no subnet lease yet"},
			&types.Error{Code: types.ErrTryAgainLater, Msg: "allocate dcos/c1/eth0: overlayd: no subnet lease yet"}},
		{"not found", &api.Error{Status: 404, Code: api.CodeNotFound, Msg: "attachment not found"},
			&types.Error{Code: types.ErrUnknownContainer, Msg: "allocate dcos/c1/eth0: overlayd: attachment not found"}},
		{"internal", &api.Error{Status: 500, Code: api.CodeInternal, Msg: "store broke"},
			&types.Error{Code: types.ErrInternal, Msg: "allocate dcos/c1/eth0: overlayd: store broke"}},
		{"unknown code", &api.Error{Status: 418, Code: "teapot", Msg: "short and stout"},
			&types.Error{Code: types.ErrInternal, Msg: "allocate dcos/c1/eth0: overlayd: short and stout"}},
		{"plain error", errors.New("decode overlayd answer: EOF"),
			&types.Error{Code: types.ErrInternal, Msg: "allocate dcos/c1/eth0: decode overlayd answer: EOF"}},
		{"already a CNI error", types.NewError(types.ErrInvalidNetNS, "bad netns", ""),
			&types.Error{Code: types.ErrInvalidNetNS, Msg: "bad netns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CNIError("allocate dcos/c1/eth0", sock, tt.err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CNIError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnreachableSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.sock")
	l := New(sock)
	ctx := context.Background()
	id := api.AttachmentID{Network: "dcos", ContainerID: "c1", IfName: "eth0"}

	_, err := l.Allocate(ctx, api.AllocateRequest{AttachmentID: id})
	plugintest.WantCode(t, err, types.ErrTryAgainLater, "overlayd is not reachable at "+sock+": ")
	if !strings.HasSuffix(err.Error(), "(is overlayd running?)") || strings.Count(err.Error(), "is overlayd running") != 1 {
		t.Errorf("message %q: want one hint at the end", err)
	}
	plugintest.WantCode(t, l.Release(ctx, id), types.ErrTryAgainLater, "release dcos/c1/eth0")
	plugintest.WantCode(t, l.Status(ctx, "dcos"), types.ErrPluginNotAvailable, "status: overlayd is not reachable")
	_, err = l.GC(ctx, "dcos", "", nil)
	plugintest.WantCode(t, err, types.ErrTryAgainLater, "gc network dcos")
}

func TestAgainstFake(t *testing.T) {
	srv := fakeoverlayd.Start(t, api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1420, NodeSubnet: "9.0.3.0/30", Gateway: "9.0.3.1"})
	l := New(srv.Socket)
	ctx := context.Background()
	c1 := api.AttachmentID{Network: "dcos", ContainerID: "c1", IfName: "eth0"}
	c2 := api.AttachmentID{Network: "dcos", ContainerID: "c2", IfName: "eth0"}

	for range 2 { // idempotent
		resp, err := l.Allocate(ctx, api.AllocateRequest{AttachmentID: c1})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]api.IPConfig{{Address: "9.0.3.2/30", Gateway: "9.0.3.1"}}, resp.Attachment.IPs); diff != "" {
			t.Fatalf("Allocate (-want +got):\n%s", diff)
		}
	}
	_, err := l.Allocate(ctx, api.AllocateRequest{AttachmentID: c2})
	plugintest.WantCode(t, err, CodeSubnetExhausted, "no free address in 9.0.3.0/30")

	_, err = l.Attachment(ctx, c2)
	plugintest.WantCode(t, err, types.ErrUnknownContainer, "look up attachment dcos/c2/eth0")

	if err := l.Status(ctx, "dcos"); err != nil {
		t.Errorf("Status: %v", err)
	}
	plugintest.WantCode(t, l.Status(ctx, "other"), types.ErrPluginNotAvailable, `serves no network "other"`)

	released, err := l.GC(ctx, "dcos", "", []types.GCAttachment{{ContainerID: "c9", IfName: "eth0"}})
	if err != nil || len(released) != 1 || released[0].AttachmentID != c1 {
		t.Errorf("GC: released %v, %v; want c1", released, err)
	}
	for range 2 {
		if err := l.Release(ctx, c1); err != nil {
			t.Errorf("Release: %v", err)
		}
	}

	srv.Fail(api.PathAllocate, http.StatusServiceUnavailable, api.ErrorBody{Code: api.CodeUnavailable, Error: "no subnet lease yet"})
	_, err = l.Allocate(ctx, api.AllocateRequest{AttachmentID: c1})
	plugintest.WantCode(t, err, types.ErrTryAgainLater, "no subnet lease yet")
}
