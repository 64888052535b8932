package haproxytest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l7lb/apply"
	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/model"
)

// Rig is an HAProxy on node "lb" driven by an Applier, a client node
// "cli" and application nodes "app1".."appN" on one fabric. HAProxy runs
// only inside lb's namespace.
type Rig struct {
	T       testing.TB
	Fabric  *netsim.Fabric
	LB      *netsim.Node
	Client  *netsim.Node
	Apps    []*netsim.Node
	Dir     string
	HAProxy *haproxy.Instance
	Applier *apply.Applier
}

// RigOptions shape a Rig.
type RigOptions struct {
	// Apps is the number of application nodes (default 1).
	Apps int
	// Apply adjusts the Applier's options (Dir and sockets are set).
	Apply func(*apply.Options)
	// NoRun leaves the Applier's background loop off.
	NoRun bool
}

// NewRig builds the fabric (prefix must be unique to the calling package),
// starts nothing in HAProxy until the first Apply, and removes everything
// in t.Cleanup. It skips without root or haproxy.
func NewRig(t testing.TB, prefix string, o RigOptions) *Rig {
	t.Helper()
	netsim.Privileged(t, "ip", "haproxy")
	if o.Apps <= 0 {
		o.Apps = 1
	}
	r := &Rig{T: t, Fabric: netsim.NewFabric(t, prefix)}
	var err error
	if r.LB, err = r.Fabric.AddNode("lb"); err != nil {
		t.Fatal(err)
	}
	if r.Client, err = r.Fabric.AddNode("cli"); err != nil {
		t.Fatal(err)
	}
	for i := range o.Apps {
		n, err := r.Fabric.AddNode(fmt.Sprintf("app%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		r.Apps = append(r.Apps, n)
	}
	// Short paths: unix socket paths are limited to 108 bytes.
	r.Dir, err = os.MkdirTemp("", "l7lb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(r.Dir) })
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r.HAProxy = haproxy.New(haproxy.Options{
		Command:      []string{"ip", "netns", "exec", r.LB.NSName, "haproxy"},
		ConfigPath:   filepath.Join(r.Dir, "haproxy.cfg"),
		MasterSocket: filepath.Join(r.Dir, "master.sock"),
		StatsSocket:  filepath.Join(r.Dir, "admin.sock"),
		Logger:       logger,
	})
	t.Cleanup(func() {
		if err := r.HAProxy.Stop(); err != nil {
			t.Errorf("stop haproxy: %v", err)
		}
		if t.Failed() {
			t.Logf("haproxy output:\n%s", strings.Join(r.HAProxy.Log(), "\n"))
		}
	})
	opts := apply.Options{Dir: filepath.Join(r.Dir, "state"), MinReloadInterval: -1, DrainTimeout: 10 * time.Second, Logger: logger}
	opts.Render.HardStopAfter = 5 * time.Second
	if o.Apply != nil {
		o.Apply(&opts)
	}
	r.Applier, err = apply.New(r.HAProxy, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !o.NoRun {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Applier.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return r
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Apply applies cfg and fails the test on error.
func (r *Rig) Apply(cfg model.Config) model.Result {
	r.T.Helper()
	res, err := r.Applier.Apply(context.Background(), cfg)
	if err != nil {
		r.T.Fatalf("Apply: %v", err)
	}
	return res
}

// LBAddr is the load balancer's address with port.
func (r *Rig) LBAddr(port uint16) netip.AddrPort { return netip.AddrPortFrom(r.LB.UnderlayIP, port) }

// Dial opens a TCP connection from the client node.
func (r *Rig) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return r.Client.DialTCP(ctx, addr)
}

// HTTPClient is an HTTP client on the client node that does not follow
// redirects; tlsConf may be nil.
func (r *Rig) HTTPClient(tlsConf *tls.Config) *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{DialContext: r.Dial, TLSClientConfig: tlsConf, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Get requests url with Host header host from the client node and returns
// the status and body.
func (r *Rig) Get(c *http.Client, url, host string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// Processes returns the PIDs of HAProxy's master and its workers (its
// process group).
func (r *Rig) Processes() []int {
	return ProcessGroup(r.HAProxy.PID())
}

// ProcessGroup lists the processes of process group pgid.
func ProcessGroup(pgid int) []int {
	if pgid == 0 {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Backend is a small HTTP server that answers its name.
type Backend struct {
	Name    string
	Addr    netip.AddrPort
	Hits    atomic.Int64
	healthy atomic.Bool
	srv     *http.Server
	ln      net.Listener
}

// ServeHTTP starts backend name on addr inside ns: every path answers the
// name (header X-Backend too), /health answers 200 while healthy and 503
// otherwise. It stops when t ends.
func ServeHTTP(t testing.TB, ns netsim.Namespace, addr netip.AddrPort, name string) *Backend {
	t.Helper()
	ln, err := ns.Listen("tcp", addr.String())
	if err != nil {
		t.Fatalf("backend %s: listen on %s in %s: %v", name, addr, ns.NSName, err)
	}
	b := &Backend{Name: name, Addr: addr, ln: ln}
	b.healthy.Store(true)
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	t.Cleanup(b.Close)
	return b
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		if !b.healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
		return
	}
	b.Hits.Add(1)
	w.Header().Set("X-Backend", b.Name)
	io.WriteString(w, b.Name)
}

// SetHealthy makes /health answer 200 (true) or 503 (false).
func (b *Backend) SetHealthy(ok bool) { b.healthy.Store(ok) }

// Server is the model server of this backend under key.
func (b *Backend) Server(key string) model.Server {
	return model.Server{Key: key, Addr: b.Addr}
}

// Shutdown stops accepting and waits for requests in flight.
func (b *Backend) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
}

// Close stops at once. Safe to call repeatedly.
func (b *Backend) Close() { b.srv.Close() }
