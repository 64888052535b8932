package netsim

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// WriteUnboundConf writes dir/unbound.conf for Debian's unbound as a
// test upstream resolver: it listens on listen:53 (IPv4 only), runs in the
// foreground without chroot or privilege drop, keeps its pid file in dir,
// answers every name below zone with an A record answer (TTL ttl) and
// NXDOMAIN for everything else, and never asks anyone. It returns the
// file's path, for `unbound -d -c PATH`.
func WriteUnboundConf(dir string, listen netip.Addr, zone string, ttl int, answer string) (string, error) {
	conf := fmt.Sprintf(`server:
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
  num-threads: 1
  module-config: "iterator"
  access-control: 198.18.0.0/15 allow
  local-zone: "." always_nxdomain
  local-zone: %q redirect
  local-data: "%s %d IN A %s"
remote-control:
  control-enable: no
`, listen, dir, filepath.Join(dir, "unbound.pid"), zone, zone, ttl, answer)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}
