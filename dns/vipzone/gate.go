package vipzone

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// Gate says whether this node's dcnet-l4lb has programmed a VIP address,
// so that a name is never answered on a node before the node can reach the
// VIP: the name record in etcd only says that some node programmed it.
type Gate interface {
	// Programmed reports whether addr is programmed on this node. An error
	// means the gate cannot tell (no dcnet-l4lb answers on this node); the
	// zone then serves the name.
	Programmed(ctx context.Context, addr netip.Addr) (bool, error)
}

// HTTPGate asks the local dcnet-l4lb: GET http://<Addr>/v1/programmed/<ip>
// answers 204 when the address is programmed and 404 with the header
// X-Dcnet-Programmed: no when it is not; anything else (503 before its
// first sync, a 404 without the header, no answer) is "cannot tell".
type HTTPGate struct {
	// Addr is dcnet-l4lb's HTTP address (l4lbapi.DefaultAddr on a node).
	Addr   string
	Client *http.Client
}

// DefaultGateTimeout bounds one question to dcnet-l4lb (on this node's
// loopback: it answers in well under a millisecond when it is healthy).
const DefaultGateTimeout = 250 * time.Millisecond

// NewHTTPGate returns a gate asking dcnet-l4lb at addr.
func NewHTTPGate(addr string) *HTTPGate {
	return &HTTPGate{Addr: addr, Client: &http.Client{Timeout: DefaultGateTimeout}}
}

// Programmed implements Gate.
func (g *HTTPGate) Programmed(ctx context.Context, addr netip.Addr) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.Addr+l4lbapi.PathProgrammed+addr.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := g.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("ask dcnet-l4lb at %s: %w", g.Addr, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		if resp.Header.Get(l4lbapi.HeaderProgrammed) != "no" {
			// A server without the route (an older dcnet-l4lb): it
			// cannot tell, so the name is served.
			return false, fmt.Errorf("dcnet-l4lb at %s has no /v1/programmed (an older version?)", g.Addr)
		}
		return false, nil
	default:
		return false, fmt.Errorf("dcnet-l4lb at %s: GET /v1/programmed/%s: %s", g.Addr, addr, resp.Status)
	}
}

// FakeGate is a Gate for tests, safe for concurrent use: Program makes an
// address programmed; Fail makes every question fail.
type FakeGate struct {
	mu    sync.Mutex
	set   map[netip.Addr]bool
	err   error
	asked int
}

// Program marks addr programmed.
func (f *FakeGate) Program(addr netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.set == nil {
		f.set = map[netip.Addr]bool{}
	}
	f.set[addr] = true
}

// Unprogram marks addr not programmed.
func (f *FakeGate) Unprogram(addr netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.set, addr)
}

// Fail makes every later question return err (nil: answer again).
func (f *FakeGate) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Asked is the number of questions so far.
func (f *FakeGate) Asked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked
}

// Programmed implements Gate.
func (f *FakeGate) Programmed(_ context.Context, addr netip.Addr) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	if f.err != nil {
		return false, f.err
	}
	return f.set[addr], nil
}
