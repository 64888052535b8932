package resolver

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
	"github.com/dcnet/dcnet/dns/forward"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/internal/dnstest"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testConfig() Config {
	c := DefaultConfig()
	c.Listen = []string{"127.0.0.1:0"}
	c.Upstreams = []string{"192.0.2.1"}
	return c
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zeros are defaults", func(c *Config) { c.Timeout, c.CacheSize, c.Sockets, c.ResolvConf = 0, 0, 0, "" }, ""},
		{"no listen", func(c *Config) { c.Listen = nil }, "listen: no address"},
		{"bad listen", func(c *Config) { c.Listen = []string{"198.51.100.1"} }, `listen "198.51.100.1": want ip:port`},
		{"bad upstream", func(c *Config) { c.Upstreams = []string{"dns.example"} }, `upstream "dns.example": want ip or ip:port`},
		{"bad mesos-dns", func(c *Config) { c.MesosDNS = []string{"master"} }, `mesos-dns: upstream "master"`},
		{"forward zone without server", func(c *Config) { c.ForwardZones = []ForwardZone{{Zone: "corp."}} }, `forward zone "corp.": no server`},
		{"forward zone bad server", func(c *Config) { c.ForwardZones = []ForwardZone{{Zone: "corp.", Servers: []string{""}}} }, `forward zone "corp.": upstream ""`},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout -1s: must not be negative (0: the default 5s)"},
		{"negative cache", func(c *Config) { c.CacheSize = -1 }, "cache size -1: out of range"},
		{"negative sockets", func(c *Config) { c.Sockets = -1 }, "sockets -1: out of range [0, 1024] (0: GOMAXPROCS)"},
		{"too many sockets", func(c *Config) { c.Sockets = 1025 }, "sockets 1025: out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.edit(&c)
			dnstest.WantErr(t, c.Validate(), tc.want)
		})
	}
}

// TestZeroMeansDefault: a zero number (or empty path) in the Config means
// the default the flag documents, the same value DefaultConfig holds.
func TestZeroMeansDefault(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{ResolvConf: DefaultResolvConf, Timeout: forward.DefaultTimeout, CacheSize: cache.DefaultSize}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Config{}.WithDefaults() (-want +got):\n%s", diff)
	}
	d := DefaultConfig()
	if d.ResolvConf != want.ResolvConf || d.Timeout != want.Timeout || d.CacheSize != want.CacheSize || d.Sockets != 0 {
		t.Errorf("DefaultConfig %+v disagrees with the zero values' defaults %+v", d, want)
	}
	if set := (Config{Timeout: time.Second, CacheSize: 7}).WithDefaults(); set.Timeout != time.Second || set.CacheSize != 7 {
		t.Errorf("WithDefaults changed set fields: %+v", set)
	}
}

func TestParseForwardZone(t *testing.T) {
	z, err := ParseForwardZone("corp.example=10.0.0.1;10.0.0.2:5353")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ForwardZone{Zone: "corp.example", Servers: []string{"10.0.0.1", "10.0.0.2:5353"}}, z); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"corp.example", "=10.0.0.1", ""} {
		if _, err := ParseForwardZone(bad); err == nil || !strings.Contains(err.Error(), "want zone=ip[:port]") {
			t.Errorf("ParseForwardZone(%q): %v", bad, err)
		}
	}
}

// upstream serves A 192.0.2.7 for every name on a loopback UDP port.
func upstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		rr, _ := dns.NewRR(req.Question[0].Name + " 30 IN A 192.0.2.7")
		m.Answer = append(m.Answer, rr)
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestNewRoutes: local zones are answered by the handler, a forwarded
// zone goes to its own server, and the metrics know the local zones.
func TestNewRoutes(t *testing.T) {
	c := testConfig()
	c.ForwardZones = []ForwardZone{{Zone: "corp.example.", Servers: []string{upstream(t)}}}
	r, err := New(c, discard(), server.NewThisNode(netip.MustParseAddr("10.0.0.7")))
	if err != nil {
		t.Fatal(err)
	}
	if m := dnstest.Ask(t, r.Handler, "thisnode.thisdcos.directory.", dns.TypeA); len(m.Answer) != 1 || !m.Authoritative {
		t.Errorf("thisnode: %v", m)
	}
	m := dnstest.Ask(t, r.Handler, "x.corp.example.", dns.TypeA)
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
		t.Errorf("x.corp.example. through the forwarded zone: %v", m)
	}
	if len(r.Zones) != 1 || r.Zones[0].Name() != server.ThisNodeZone {
		t.Errorf("zones %v", r.Zones)
	}
	if got := r.Metrics.Zone("a.thisnode.thisdcos.directory."); got != server.ThisNodeZone {
		t.Errorf("metrics zone of a thisnode name: %q", got)
	}
}

// TestNewResolvConf: without upstreams the nameservers of ResolvConf are
// the upstreams; an unreadable one is an error naming it.
func TestNewResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.9\nnameserver 2001:db8::9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testConfig()
	c.Upstreams, c.ResolvConf = nil, path
	r, err := New(c, discard())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"192.0.2.9:53", "[2001:db8::9]:53"}, r.Upstreams); diff != "" {
		t.Errorf("upstreams (-want +got):\n%s", diff)
	}
	c.ResolvConf = filepath.Join(t.TempDir(), "missing")
	if _, err := New(c, discard()); err == nil || !strings.Contains(err.Error(), "resolv.conf") {
		t.Errorf("missing resolv.conf: %v", err)
	}
}

// TestRun serves on a loopback port until the context ends.
func TestRun(t *testing.T) {
	r, err := New(testConfig(), discard(), server.NewSpartan())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- r.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

// TestRestrict: on a restricted address a forwarded name is answered (by
// the handler and, once cached, by the fast path) only to the address
// itself and the recursion nets; another client gets REFUSED, also for a
// name in the cache; local zones answer everyone.
func TestRestrict(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // a free port for the listener
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := testConfig()
	c.Listen, c.Upstreams, c.Sockets = []string{addr}, []string{upstream(t)}, 1
	c.RecursionNets = []string{"127.0.0.3/32"}
	r, err := New(c, discard(), server.NewSpartan())
	if err != nil {
		t.Fatal(err)
	}
	r.Restrict([]string{addr})
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- r.Run(ctx, func() { close(ready) }) }()
	defer func() { cancel(); <-done }()
	<-ready
	ask := func(from, name string) int {
		t.Helper()
		cl := &dns.Client{Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
		m, _, err := cl.Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), addr)
		if err != nil {
			t.Fatalf("from %s: %s: %v", from, name, err)
		}
		return m.Rcode
	}
	for _, tt := range []struct {
		from, name string
		want       int
	}{
		{"127.0.0.1", "a.example.", dns.RcodeSuccess}, // the address itself; now cached
		{"127.0.0.1", "a.example.", dns.RcodeSuccess}, // the fast path
		{"127.0.0.2", "a.example.", dns.RcodeRefused}, // not from the fast path either
		{"127.0.0.2", "b.example.", dns.RcodeRefused},
		{"127.0.0.3", "a.example.", dns.RcodeSuccess}, // a recursion net
		{"127.0.0.2", "ready.spartan.", dns.RcodeSuccess},
	} {
		if got := ask(tt.from, tt.name); got != tt.want {
			t.Errorf("from %s %s: %s, want %s", tt.from, tt.name, dns.RcodeToString[got], dns.RcodeToString[tt.want])
		}
	}
}
