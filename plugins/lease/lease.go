// Package lease is the plugins' side of overlayd's attachment API: allocate,
// release, look up and garbage-collect attachments and ask for overlayd's
// status, with every overlayd failure turned into a CNI error whose code tells
// the runtime what to do.
//
// Error codes:
//
//	11  (ErrTryAgainLater)      overlayd unreachable (socket missing, refused,
//	                            timeout) or not ready (no subnet lease yet)
//	100 (CodeSubnetExhausted)   the node subnet has no free address; the
//	                            message names the subnet
//	7   (ErrInvalidNetworkConfig) overlayd refused the request (unknown network)
//	3   (ErrUnknownContainer)   the attachment does not exist (CHECK)
//	50  (ErrPluginNotAvailable) STATUS: overlayd unreachable or not ready
//	999 (ErrInternal)           anything else
package lease

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/dcnet/dcnet/overlayd/api"
)

// CodeSubnetExhausted is the CNI error code of an ADD that failed because the
// node's subnet of the overlay has no free address. It is plugin-specific
// (the spec leaves 100 and up to plugins); retrying helps only after other
// containers on the node are gone.
const CodeSubnetExhausted uint = 100

// unreachableHint ends the client's unreachable errors.
const unreachableHint = " (is overlayd running?)"

// Leases talks to one overlayd.
type Leases struct {
	client *api.Client
}

// New returns Leases for overlayd at socket.
func New(socket string) *Leases {
	return &Leases{client: api.NewClient(socket)}
}

// Socket returns overlayd's socket path.
func (l *Leases) Socket() string { return l.client.Socket() }

// Allocate returns the attachment's addresses, allocating them on first use;
// safe to call repeatedly.
func (l *Leases) Allocate(ctx context.Context, req api.AllocateRequest) (api.AllocateResponse, error) {
	resp, err := l.client.Allocate(ctx, req)
	if err != nil {
		return resp, CNIError("allocate "+req.AttachmentID.String(), l.Socket(), err)
	}
	return resp, nil
}

// Release frees the attachment; releasing an unknown attachment succeeds.
func (l *Leases) Release(ctx context.Context, id api.AttachmentID) error {
	if _, err := l.client.Release(ctx, id); err != nil {
		return CNIError("release "+id.String(), l.Socket(), err)
	}
	return nil
}

// Withdraw stops publishing the attachment's endpoint record and waits
// (bounded, in overlayd) until every node's dcnet-l4lb stopped choosing it:
// DEL calls it before the interface goes. An overlayd without the route
// (an older version) answers 404, which is not an error.
func (l *Leases) Withdraw(ctx context.Context, id api.AttachmentID) error {
	_, err := l.client.Withdraw(ctx, id)
	var ae *api.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && !api.IsCode(err, api.CodeNotFound) {
		return nil
	}
	if err != nil {
		return CNIError("withdraw "+id.String(), l.Socket(), err)
	}
	return nil
}

// Publish publishes the attachment's endpoint record: ADD calls it once
// the interface exists (the allocation was Unpublished).
func (l *Leases) Publish(ctx context.Context, id api.AttachmentID) error {
	if _, err := l.client.Publish(ctx, id); err != nil {
		return CNIError("publish "+id.String(), l.Socket(), err)
	}
	return nil
}

// Attachment returns one attachment; code 3 when overlayd has none.
func (l *Leases) Attachment(ctx context.Context, id api.AttachmentID) (api.Attachment, error) {
	a, err := l.client.Attachment(ctx, id)
	if err != nil {
		return a, CNIError("look up attachment "+id.String(), l.Socket(), err)
	}
	return a, nil
}

// GC releases every attachment of network made by the CNI configuration
// config that valid does not list, and returns what was released.
// Attachments of other configurations (or of Docker) on the same overlay
// are never touched.
func (l *Leases) GC(ctx context.Context, network, config string, valid []types.GCAttachment) ([]api.Attachment, error) {
	ids := make([]api.AttachmentID, 0, len(valid))
	for _, v := range valid {
		ids = append(ids, api.AttachmentID{Network: network, ContainerID: v.ContainerID, IfName: v.IfName})
	}
	released, err := l.client.GC(ctx, network, config, ids)
	if err != nil {
		return nil, CNIError("gc network "+network, l.Socket(), err)
	}
	return released, nil
}

// Status checks that overlayd answers and serves network; any failure is
// code 50 (ADD would fail).
func (l *Leases) Status(ctx context.Context, network string) error {
	st, err := l.client.Status(ctx)
	if err != nil {
		e := CNIError("status", l.Socket(), err)
		e.Code = types.ErrPluginNotAvailable
		return e
	}
	for _, n := range st.Networks {
		if n.Name == network {
			return nil
		}
	}
	names := make([]string, 0, len(st.Networks))
	for _, n := range st.Networks {
		names = append(names, n.Name)
	}
	return types.NewError(types.ErrPluginNotAvailable,
		fmt.Sprintf("status: overlayd on node %q serves no network %q (it serves [%s])", st.Node, network, strings.Join(names, ", ")), "")
}

// CNIError maps an overlayd failure during op to a CNI error; see the
// package comment for the codes.
func CNIError(op, socket string, err error) *types.Error {
	var te *types.Error
	if errors.As(err, &te) {
		return te
	}
	if errors.Is(err, api.ErrUnreachable) {
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("%s: overlayd is not reachable at %s: %s%s", op, socket, unreachableCause(err, socket), unreachableHint), "")
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		return types.NewError(types.ErrInternal, fmt.Sprintf("%s: %v", op, err), "")
	}
	code := types.ErrInternal
	switch ae.Code {
	case api.CodeExhausted:
		code = CodeSubnetExhausted
	case api.CodeInvalid:
		code = types.ErrInvalidNetworkConfig
	case api.CodeUnavailable:
		code = types.ErrTryAgainLater
	case api.CodeNotFound:
		code = types.ErrUnknownContainer
	}
	return types.NewError(code, fmt.Sprintf("%s: overlayd: %s", op, ae.Msg), "")
}

// unreachableCause strips what CNIError says itself from the client's
// "overlayd unreachable at <socket>: <cause> (is overlayd running?)".
func unreachableCause(err error, socket string) string {
	s := err.Error()
	s = strings.TrimPrefix(s, api.ErrUnreachable.Error()+" at "+socket+": ")
	return strings.TrimSuffix(s, unreachableHint)
}
