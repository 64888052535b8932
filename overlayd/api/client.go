package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Error is a failure reported by overlayd (a non-2xx answer).
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// ErrUnreachable wraps failures to reach overlayd at all (socket missing,
// connection refused, timeout): callers should try again later.
var ErrUnreachable = errors.New("overlayd unreachable")

// IsCode reports whether err is an overlayd Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Client talks to overlayd over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// defaultTimeout bounds one API call; allocation is local and fast.
const defaultTimeout = 30 * time.Second

// NewClient returns a client for the socket path (DefaultSocket when empty).
func NewClient(socket string) *Client {
	if socket == "" {
		socket = DefaultSocket
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr, Timeout: defaultTimeout}}
}

// Socket returns the socket path the client uses.
func (c *Client) Socket() string { return c.socket }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://overlayd"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v (is overlayd running?)", ErrUnreachable, c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: read answer: %v", ErrUnreachable, c.socket, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb = ErrorBody{Code: CodeInternal, Error: fmt.Sprintf("overlayd answered %s: %s", resp.Status, bytes.TrimSpace(data))}
		}
		return &Error{Status: resp.StatusCode, Code: eb.Code, Msg: eb.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode overlayd answer to %s: %w", path, err)
	}
	return nil
}

// Status returns overlayd's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, &s)
	return s, err
}

// Allocate returns the addresses of an attachment, allocating them on first
// use; safe to call repeatedly.
func (c *Client) Allocate(ctx context.Context, req AllocateRequest) (AllocateResponse, error) {
	var r AllocateResponse
	err := c.do(ctx, http.MethodPost, PathAllocate, req, &r)
	return r, err
}

// Release frees an attachment's addresses; releasing an unknown attachment
// succeeds with Released=false.
func (c *Client) Release(ctx context.Context, id AttachmentID) (bool, error) {
	var r ReleaseResponse
	err := c.do(ctx, http.MethodPost, PathRelease, id, &r)
	return r.Released, err
}

// Withdraw stops publishing an attachment's endpoint record and waits,
// bounded, until every dcnet-l4lb of the cluster has stopped choosing it:
// call it before the interface goes. Withdrawing an unknown attachment
// succeeds with Withdrawn=false; Allocate of the same ID publishes it
// again.
func (c *Client) Withdraw(ctx context.Context, id AttachmentID) (WithdrawResponse, error) {
	var r WithdrawResponse
	err := c.do(ctx, http.MethodPost, PathWithdraw, id, &r)
	return r, err
}

// Publish publishes an attachment's endpoint record (one allocated
// Unpublished, or withdrawn); safe to call repeatedly.
func (c *Client) Publish(ctx context.Context, id AttachmentID) (bool, error) {
	var r PublishResponse
	err := c.do(ctx, http.MethodPost, PathPublish, id, &r)
	return r.Published, err
}

// Update replaces an attachment's labels and port mappings and optionally
// re-keys it (see UpdateRequest); safe to call repeatedly.
func (c *Client) Update(ctx context.Context, req UpdateRequest) (Attachment, error) {
	var a Attachment
	err := c.do(ctx, http.MethodPost, PathUpdate, req, &a)
	return a, err
}

// GC releases every attachment of network made by configuration config
// ("" = network) that is not in valid.
func (c *Client) GC(ctx context.Context, network, config string, valid []AttachmentID) ([]Attachment, error) {
	if valid == nil {
		valid = []AttachmentID{}
	}
	var r GCResponse
	err := c.do(ctx, http.MethodPost, PathGC, GCRequest{Network: network, Config: config, Valid: valid}, &r)
	return r.Released, err
}

// Attachment returns one attachment; an Error with CodeNotFound when absent.
func (c *Client) Attachment(ctx context.Context, id AttachmentID) (Attachment, error) {
	q := url.Values{"network": {id.Network}, "containerID": {id.ContainerID}, "ifName": {id.IfName}}
	var a Attachment
	err := c.do(ctx, http.MethodGet, PathAttachment+"?"+q.Encode(), nil, &a)
	return a, err
}

// Attachments lists this node's attachments.
func (c *Client) Attachments(ctx context.Context) ([]Attachment, error) {
	var as []Attachment
	err := c.do(ctx, http.MethodGet, PathAttachments, nil, &as)
	return as, err
}

// Endpoints lists the cluster's endpoint records as overlayd sees them.
func (c *Client) Endpoints(ctx context.Context) ([]Endpoint, error) {
	var es []Endpoint
	err := c.do(ctx, http.MethodGet, PathEndpoints, nil, &es)
	return es, err
}

// Networks lists this node's overlays.
func (c *Client) Networks(ctx context.Context) ([]Network, error) {
	var ns []Network
	err := c.do(ctx, http.MethodGet, PathNetworks, nil, &ns)
	return ns, err
}

// Nodes lists the cluster's nodes.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var ns []Node
	err := c.do(ctx, http.MethodGet, PathNodes, nil, &ns)
	return ns, err
}

// Peers lists what this node programs for the other nodes.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var ps []Peer
	err := c.do(ctx, http.MethodGet, PathPeers, nil, &ps)
	return ps, err
}

// RemoveNode removes a node from the cluster, freeing its subnets and VTEP.
func (c *Client) RemoveNode(ctx context.Context, name string) (int, error) {
	var r NodeRemoveResponse
	err := c.do(ctx, http.MethodPost, PathNodeRemove, NodeRemoveRequest{Name: name}, &r)
	return r.Removed, err
}
