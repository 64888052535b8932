package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Anchor names, as reported.
const (
	srvKnot    = "Knot DNS"
	srvUnbound = "Unbound"
)

// knotConf is a knotd configuration serving the task and VIP zones from
// the generated zone files on ip:53, everything in dir, nothing written
// back (no journal, no zone file sync), workers worker threads per
// protocol.
func knotConf(dir, ip, zoneFile, vipZoneFile string, workers int) string {
	return fmt.Sprintf(`server:
    rundir: %q
    listen: %s@53
    udp-workers: %d
    tcp-workers: 1
    background-workers: 1
database:
    storage: %q
template:
  - id: default
    storage: %q
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
    semantic-checks: off
zone:
  - domain: dcos.thisdcos.directory
    file: %q
  - domain: l4lb.thisdcos.directory
    file: %q
log:
  - target: stderr
    any: warning
`, dir, ip, workers, filepath.Join(dir, "db"), dir, zoneFile, vipZoneFile)
}

// startKnot runs Knot DNS on node as the authoritative anchor of the
// cluster names: the same A records from the same zone files CoreDNS
// serves. It waits until it answers.
func (e *env) startKnot(ctx context.Context, s *server, workers int) error {
	dir := filepath.Join(e.Tmp, "knot")
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(conf, []byte(knotConf(dir, s.Addr, e.Data.ZoneFile, e.Data.VIPZoneFile, workers)), 0o644); err != nil {
		return err
	}
	argv := append(slices.Clone(serverCPU), "knotd", "-c", conf, "-s", filepath.Join(dir, "knot.sock"))
	s.Cluster = true
	return e.startServer(ctx, s, argv...)
}

// unboundCacheConf is an unbound configuration forwarding every name to
// upstream through its cache, on ip:53, threads threads: the caching
// anchor of the forwarded names (after the warm-up every answer is a
// cache hit, as for the other servers).
func unboundCacheConf(dir, ip, upstream string, threads int) string {
	return fmt.Sprintf(`server:
  interface: %s
  port: 53
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: %q
  pidfile: %q
  logfile: ""
  use-syslog: no
  num-threads: %d
  module-config: "iterator"
  access-control: 198.18.0.0/15 allow
  do-not-query-localhost: no
  prefetch: no
  # test. (RFC 6761) is one of unbound's built-in local zones: forward it
  local-zone: "test." nodefault
forward-zone:
  name: "."
  forward-addr: %s
remote-control:
  control-enable: no
`, ip, dir, filepath.Join(dir, "unbound.pid"), threads, upstream)
}

// startUnboundCache runs the caching Unbound anchor on node.
func (e *env) startUnboundCache(ctx context.Context, s *server, upstream string, threads int) error {
	dir := filepath.Join(e.Tmp, "unbound-cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(conf, []byte(unboundCacheConf(dir, s.Addr, upstream, threads)), 0o644); err != nil {
		return err
	}
	argv := append(slices.Clone(serverCPU), "unbound", "-d", "-c", conf)
	s.Forward = true
	return e.startServer(ctx, s, argv...)
}

// anchorVersion is the first line of `argv` (a server's version output).
func anchorVersion(ctx context.Context, ns netsim.Namespace, want string, argv ...string) string {
	out, err := ns.Run(ctx, argv...)
	if err != nil && out == "" {
		return want
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(l), "version") {
			return want + " " + strings.TrimSpace(l[strings.LastIndexAny(l, " \t")+1:])
		}
	}
	return want
}
