// Package fakeoverlayd is a stand-in for overlayd in the plugins' tests: it
// serves overlayd's local API (overlayd/api) on a unix socket with a tiny
// in-memory allocator over one network's node subnet(s), so the plugins'
// logic runs against the real client and wire format without the daemon.
//
// Allocation is idempotent per AttachmentID and hands out the lowest free
// address (IPv4: not the network, broadcast or gateway address). A full
// subnet answers api.CodeExhausted naming the subnet, as overlayd does.
// Fail injects an error answer for one route.
package fakeoverlayd

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/overlayd/api"
)

// failure is an injected error answer.
type failure struct {
	status int
	body   api.ErrorBody
}

// Server is a running fake overlayd.
type Server struct {
	// Socket is the path clients connect to.
	Socket string

	mu      sync.Mutex
	network api.Network
	atts    map[api.AttachmentID]api.Attachment
	fail    map[string]failure
	srv     *http.Server
}

// Start serves a fake overlayd for network n (Name, Bridge, MTU, NodeSubnet
// and Gateway, optionally NodeSubnet6 and Gateway6) until the test ends. The
// socket lives in a short temporary directory (unix socket paths are limited
// to 107 bytes, which t.TempDir can exceed).
func Start(t testing.TB, n api.Network) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "fakeoverlayd")
	if err != nil {
		t.Fatalf("fakeoverlayd: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{
		Socket:  filepath.Join(dir, "overlayd.sock"),
		network: n,
		atts:    map[api.AttachmentID]api.Attachment{},
		fail:    map[string]failure{},
	}
	ln, err := net.Listen("unix", s.Socket)
	if err != nil {
		t.Fatalf("fakeoverlayd: listen on %s: %v", s.Socket, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathStatus, s.status)
	mux.HandleFunc("POST "+api.PathAllocate, s.allocate)
	mux.HandleFunc("POST "+api.PathRelease, s.release)
	mux.HandleFunc("POST "+api.PathWithdraw, s.withdraw)
	mux.HandleFunc("POST "+api.PathPublish, s.publish)
	mux.HandleFunc("POST "+api.PathGC, s.gc)
	mux.HandleFunc("GET "+api.PathAttachment, s.attachment)
	mux.HandleFunc("GET "+api.PathAttachments, s.attachments)
	mux.HandleFunc("GET "+api.PathNetworks, s.networks)
	s.srv = &http.Server{Handler: s.injected(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the socket; clients then get api.ErrUnreachable.
func (s *Server) Stop() { _ = s.srv.Close() }

// Fail makes every request to path (an api.Path... constant) answer status
// with body until Fail(path, 0, api.ErrorBody{}) clears it.
func (s *Server) Fail(path string, status int, body api.ErrorBody) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.fail, path)
		return
	}
	s.fail[path] = failure{status: status, body: body}
}

// String lists the attachments, one a line, sorted:
// "dcos/c1/eth0 9.0.3.2/24 gw 9.0.3.1 labels VIP_0=/web:80".
func (s *Server) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for _, a := range s.atts {
		var b strings.Builder
		b.WriteString(a.AttachmentID.String())
		for _, ip := range a.IPs {
			fmt.Fprintf(&b, " %s gw %s", ip.Address, ip.Gateway)
		}
		if len(a.Labels) > 0 {
			keys := make([]string, 0, len(a.Labels))
			for k := range a.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteString(" labels")
			for _, k := range keys {
				fmt.Fprintf(&b, " %s=%s", k, a.Labels[k])
			}
		}
		for _, pm := range a.PortMappings {
			fmt.Fprintf(&b, " port %d:%d/%s", pm.HostPort, pm.ContainerPort, pm.Protocol)
		}
		if a.Withdrawn {
			b.WriteString(" withdrawn")
		}
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// injected answers injected failures before the real handlers.
func (s *Server) injected(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f, ok := s.fail[r.URL.Path]
		s.mu.Unlock()
		if ok {
			writeError(w, f.status, f.body.Code, "%s", f.body.Error)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, api.Status{Node: "fake", Version: "fake", Store: "none", StoreOK: true,
		Networks: []api.Network{s.network}, Attachments: len(s.atts)})
}

func (s *Server) networks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, []api.Network{s.network})
}

func (s *Server) allocate(w http.ResponseWriter, r *http.Request) {
	var req api.AllocateRequest
	if !readJSON(w, r, &req) || !s.known(w, req.AttachmentID) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.atts[req.AttachmentID]
	if !ok {
		ips, err := s.allocIPs()
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, api.CodeExhausted, "%v", err)
			return
		}
		a = api.Attachment{AttachmentID: req.AttachmentID, Config: req.Config, IPs: ips, Created: time.Now(), Withdrawn: req.Unpublished}
	} else if !req.Unpublished {
		a.Withdrawn = false
	}
	a.Runtime, a.Labels, a.PortMappings = req.Runtime, req.Labels, req.PortMappings
	s.atts[req.AttachmentID] = a
	writeJSON(w, api.AllocateResponse{Attachment: a, Network: s.network})
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	var id api.AttachmentID
	if !readJSON(w, r, &id) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.atts[id]
	delete(s.atts, id)
	writeJSON(w, api.ReleaseResponse{Released: ok})
}

func (s *Server) withdraw(w http.ResponseWriter, r *http.Request) {
	var id api.AttachmentID
	if !readJSON(w, r, &id) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.atts[id]
	if ok {
		a.Withdrawn = true
		s.atts[id] = a
	}
	writeJSON(w, api.WithdrawResponse{Withdrawn: ok})
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	var id api.AttachmentID
	if !readJSON(w, r, &id) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.atts[id]
	if ok {
		a.Withdrawn = false
		s.atts[id] = a
	}
	writeJSON(w, api.PublishResponse{Published: ok})
}

func (s *Server) gc(w http.ResponseWriter, r *http.Request) {
	var req api.GCRequest
	if !readJSON(w, r, &req) || !s.known(w, api.AttachmentID{Network: req.Network}) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	released := []api.Attachment{}
	for id, a := range s.atts {
		config := req.Config
		if config == "" {
			config = req.Network
		}
		if id.Network == req.Network && a.ConfigName() == config && !slices.Contains(req.Valid, id) {
			released = append(released, a)
			delete(s.atts, id)
		}
	}
	writeJSON(w, api.GCResponse{Released: released})
}

func (s *Server) attachment(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := api.AttachmentID{Network: q.Get("network"), ContainerID: q.Get("containerID"), IfName: q.Get("ifName")}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.atts[id]
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "attachment %s not found", id)
		return
	}
	writeJSON(w, a)
}

func (s *Server) attachments(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []api.Attachment{}
	for _, a := range s.atts {
		out = append(out, a)
	}
	writeJSON(w, out)
}

// known answers CodeInvalid for another network than the served one.
func (s *Server) known(w http.ResponseWriter, id api.AttachmentID) bool {
	if id.Network != s.network.Name {
		writeError(w, http.StatusBadRequest, api.CodeInvalid, "unknown network %q", id.Network)
		return false
	}
	return true
}

// allocIPs picks the lowest free address of each node subnet.
func (s *Server) allocIPs() ([]api.IPConfig, error) {
	var ips []api.IPConfig
	for _, sub := range []struct{ subnet, gw string }{
		{s.network.NodeSubnet, s.network.Gateway}, {s.network.NodeSubnet6, s.network.Gateway6},
	} {
		if sub.subnet == "" {
			continue
		}
		p, err := netip.ParsePrefix(sub.subnet)
		if err != nil {
			return nil, fmt.Errorf("bad node subnet %q: %v", sub.subnet, err)
		}
		addr, err := s.lowestFree(p, sub.gw)
		if err != nil {
			return nil, err
		}
		ips = append(ips, api.IPConfig{Address: netip.PrefixFrom(addr, p.Bits()).String(), Gateway: sub.gw})
	}
	if len(ips) == 0 {
		return nil, errors.New("network has no node subnet")
	}
	return ips, nil
}

func (s *Server) lowestFree(p netip.Prefix, gw string) (netip.Addr, error) {
	used := map[string]bool{gw: true}
	for _, a := range s.atts {
		for _, ip := range a.IPs {
			used[strings.Split(ip.Address, "/")[0]] = true
		}
	}
	p = p.Masked()
	for a := p.Addr().Next(); p.Contains(a); a = a.Next() {
		if a.Is4() && !p.Contains(a.Next()) {
			break // broadcast
		}
		if !used[a.String()] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address in %s of network %s", p, s.network.Name)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, api.CodeInvalid, "decode request: %v", err)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Code: code, Error: fmt.Sprintf(format, a...)})
}
