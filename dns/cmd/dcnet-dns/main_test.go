package main

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/dns/mesosdns"
	"github.com/dcnet/dcnet/dns/node"
	"github.com/dcnet/dcnet/dns/resolver"
)

func parse(t *testing.T, args ...string) (*flags, error) {
	t.Helper()
	fs := flag.NewFlagSet("dcnet-dns", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := newFlags(fs)
	return f, fs.Parse(args)
}

func mustParse(t *testing.T, args ...string) *flags {
	t.Helper()
	f, err := parse(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestNoFlagsAreDefaults: without flags each mode runs with its package's
// DefaultConfig, unchanged.
func TestNoFlagsAreDefaults(t *testing.T) {
	f := mustParse(t)
	if diff := cmp.Diff(node.DefaultConfig(), f.nodeConfig()); diff != "" {
		t.Errorf("node mode (-DefaultConfig +flags):\n%s", diff)
	}
	if diff := cmp.Diff(mesosdns.DefaultConfig(), f.mesosDNSConfig()); diff != "" {
		t.Errorf("mesos-dns mode (-DefaultConfig +flags):\n%s", diff)
	}
	if f.mode != node.Mode || f.logLevel != "info" {
		t.Errorf("mode %q log level %q", f.mode, f.logLevel)
	}
}

// TestFlagDefaultsMatchConfig: each flag's default (shown by -h) is the
// value the Config holds when the flag is not given.
func TestFlagDefaultsMatchConfig(t *testing.T) {
	nd := node.DefaultConfig()
	f := mustParse(t)
	for name, want := range map[string]string{
		"refresh":         nd.Mesos.Refresh.String(),
		"mesos-timeout":   nd.Mesos.Timeout.String(),
		"mesos-subscribe": "true",
		"timeout":         nd.DNS.Timeout.String(),
		"cache-size":      "10000",
		"sockets":         "0",
		"fast-path":       "true",
		"resolv-conf":     nd.DNS.ResolvConf,
		"spartan-link":    nd.SpartanLink,
		"l4lb-addr":       nd.L4LBAddr,
	} {
		if got := f.fs.Lookup(name).DefValue; got != want {
			t.Errorf("--%s default %q, Config %q", name, got, want)
		}
	}
}

// TestZeroFlagsReachTheConfig: a flag's 0 (or empty) is handed to the
// Config as it is, where it means what the field documents (0: the
// default; an empty address: none), the same in both modes.
func TestZeroFlagsReachTheConfig(t *testing.T) {
	f := mustParse(t, "--sockets", "0", "--timeout", "0", "--cache-size", "0", "--refresh", "0", "--mesos-timeout", "0",
		"--http-addr", "", "--spartan-link", "", "--l4lb-addr", "", "--resolv-conf", "")
	nc, mc := f.nodeConfig(), f.mesosDNSConfig()
	for _, got := range []resolver.Config{nc.DNS, mc.DNS} {
		if got.Sockets != 0 || got.Timeout != 0 || got.CacheSize != 0 || got.ResolvConf != "" {
			t.Errorf("query path %+v, want the zeros given", got)
		}
		if d := got.WithDefaults(); d.Timeout != 5*time.Second || d.CacheSize != 10000 || d.ResolvConf != resolver.DefaultResolvConf {
			t.Errorf("zeros in force %+v, want the defaults", d)
		}
	}
	if nc.Mesos.Refresh != 0 || mc.Mesos.Refresh != 0 || nc.Mesos.Timeout != 0 || mc.Mesos.Timeout != 0 {
		t.Errorf("refresh %s/%s timeout %s/%s, want 0", nc.Mesos.Refresh, mc.Mesos.Refresh, nc.Mesos.Timeout, mc.Mesos.Timeout)
	}
	if nc.HTTPAddr != "" || mc.HTTPAddr != "" || nc.SpartanLink != "" || nc.L4LBAddr != "" {
		t.Errorf("empty addresses not kept: http %q/%q spartan %q l4lb %q", nc.HTTPAddr, mc.HTTPAddr, nc.SpartanLink, nc.L4LBAddr)
	}
}

// TestFlagsFillConfig: every flag lands in its field.
func TestFlagsFillConfig(t *testing.T) {
	f := mustParse(t, "--mode", "mesos-dns", "--listen", "10.0.0.1:53,10.0.0.1:5353", "--upstream", "8.8.8.8", "--upstream", "1.1.1.1",
		"--mesos-dns", "10.0.0.2", "--forward-zone", "corp=10.1.0.1;10.1.0.2", "--node-ip", "10.0.1.5",
		"--cname", "a.example=b.example", "--etcd-endpoints", "http://e1:2379,http://e2:2379", "--mesos-master", "10.0.0.1:5050",
		"--mesos-subscribe=false", "--fast-path=false", "--sockets", "3", "--cache-size", "7", "--timeout", "2s",
		"--refresh", "30s", "--mesos-timeout", "1s", "--http-addr", "127.0.0.1:9", "--spartan-link", "dns0",
		"--l4lb-addr", "127.0.0.1:8", "--resolv-conf", "/tmp/r", "--log-level", "debug")
	wantDNS := resolver.Config{Listen: []string{"10.0.0.1:53", "10.0.0.1:5353"}, Upstreams: []string{"8.8.8.8", "1.1.1.1"},
		ResolvConf: "/tmp/r", MesosDNS: []string{"10.0.0.2"},
		ForwardZones: []resolver.ForwardZone{{Zone: "corp", Servers: []string{"10.1.0.1", "10.1.0.2"}}},
		Timeout:      2 * time.Second, CacheSize: 7, Sockets: 3}
	nc := f.nodeConfig()
	if diff := cmp.Diff(wantDNS, nc.DNS); diff != "" {
		t.Errorf("query path (-want +got):\n%s", diff)
	}
	if nc.HTTPAddr != "127.0.0.1:9" || nc.SpartanLink != "dns0" || nc.L4LBAddr != "127.0.0.1:8" ||
		!cmp.Equal(nc.NodeIPs, []string{"10.0.1.5"}) || !cmp.Equal(nc.Etcd, []string{"http://e1:2379", "http://e2:2379"}) ||
		!cmp.Equal(nc.CNAMEs, []node.CNAME{{Name: "a.example.", Target: "b.example."}}) {
		t.Errorf("node config %+v", nc)
	}
	mc := f.mesosDNSConfig()
	if m := mc.Mesos; !cmp.Equal(m.Masters, []string{"10.0.0.1:5050"}) || m.Subscribe || m.Refresh != 30*time.Second || m.Timeout != time.Second {
		t.Errorf("mesos source %+v", m)
	}
	if mc.HTTPAddr != "127.0.0.1:9" || !cmp.Equal(mc.DNS, wantDNS) || f.mode != mesosdns.Mode || f.logLevel != "debug" {
		t.Errorf("mesos-dns config %+v, mode %q, log level %q", mc, f.mode, f.logLevel)
	}
}

// TestBadFlags: values that do not parse are refused by the flag parser
// (exit status 2), naming the flag.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--cname", "noequals"}, {"--cname", "a.b=a.b"}, {"--forward-zone", "corp"}, {"--sockets", "x"}, {"--refresh", "5"},
	} {
		if _, err := parse(t, args...); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestNewDaemonErrors: an unknown mode and an invalid Config are errors
// of newDaemon (exit status 2), before anything runs.
func TestNewDaemonErrors(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for args, want := range map[string]string{
		"--mode dns":                           `mode "dns": want node or mesos-dns`,
		"--mode mesos-dns":                     "mesos-dns mode needs --mesos-master",
		"--sockets -1":                         "sockets -1: out of range",
		"--listen 198.51.100.1":                `listen "198.51.100.1": want ip:port`,
		"--node-ip 10.0.0.256":                 `node ip "10.0.0.256"`,
		"--mesos-master ftp://m":               `scheme "ftp"`,
		"--mesos-state-file /nonexistent.json": "/nonexistent.json",
	} {
		f := mustParse(t, append(strings.Fields(args), "--upstream", "192.0.2.1", "--listen", "127.0.0.1:0")...)
		if _, err := newDaemon(f, log); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", args, err, want)
		}
	}
}

// TestConfigFile: --config reads each mode's file, the flags given
// override it (the state file stands in for the file's ZooKeeper and
// masters), and a file that cannot be read or parsed is an error of
// newDaemon.
func TestConfigFile(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	state := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(state, []byte(`{"leader":"master@10.0.0.1:5050","pid":"master@10.0.0.1:5050"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f := mustParse(t, "--mode", "mesos-dns", "--config", "../../../conf/dns/mesos-dns.json", "--mesos-state-file", state,
		"--listen", "127.0.0.1:0", "--http-addr", "", "--upstream", "192.0.2.1")
	c, _, err := mesosdns.LoadConfigFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	c = f.applyMesosDNS(c)
	if c.Mesos.Zk != "" || c.Mesos.StateFile != state || c.Zone.TTL != 60 || !cmp.Equal(c.DNS.Listen, []string{"127.0.0.1:0"}) ||
		c.HTTPAddr != "" || !cmp.Equal(c.DNS.Upstreams, []string{"192.0.2.1"}) {
		t.Errorf("mesos-dns config %+v", c)
	}
	if _, err := newDaemon(f, log); err != nil {
		t.Fatalf("newDaemon: %v", err)
	}
	for args, want := range map[string]string{
		"--mode mesos-dns --config /nonexistent.json":                                           "mesos-dns config",
		"--config /nonexistent.json":                                                            "dcos-dns config",
		"--mode mesos-dns --config ../../../conf/dns/dcos-dns.json --mesos-state-file " + state: `field "bind_ip_blacklist": unknown`,
	} {
		f := mustParse(t, strings.Fields(args)...)
		if _, err := newDaemon(f, log); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", args, err, want)
		}
	}
}
