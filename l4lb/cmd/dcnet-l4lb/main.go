// Command dcnet-l4lb is dcnet's per-node VIP load balancer: it reads VIPs
// and backends from etcd (and from the node's Mesos agent) and programs
// them into the node's nftables.
//
// A flag's 0 (or empty value) means what the daemon.Options field it
// fills documents: a zero duration is that field's default.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/logging"
	"github.com/dcnet/dcnet/l4lb/daemon"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vroute"
)

func main() {
	endpoints := flag.String("etcd-endpoints", "", "comma-separated etcd endpoints (required)")
	node := flag.String("node-name", "", "node name, as overlayd's (default: host name)")
	httpAddr := flag.String("http-addr", daemon.DefaultHTTPAddr, "address of the /v1/vips and /metrics API (\"\" disables)")
	interval := flag.Duration("sync-interval", daemon.DefaultSyncInterval, "periodic reconcile that repairs the nftables tables (0: the default)")
	mesosAgent := flag.String("mesos-agent", "", "base URL of the node's Mesos agent, http://<agent ip>:5051 (\"\" = no Mesos source)")
	mesosAgentIP := flag.String("mesos-agent-ip", "", "agent IP for tasks whose agent hostname is not an IP (default: the --mesos-agent host when it is an IP)")
	overlays := flag.String("overlay-subnets", "9.0.0.0/8,fd01:b::/64", "overlay ranges: a port-mapped Mesos task with an address in one is balanced to that address, not to agent IP:host port (\"\" = none)")
	mesosPoll := flag.Duration("mesos-poll-interval", daemon.DefaultMesosPoll, "interval between GET_STATE polls of the Mesos agent (0: the default)")
	grace := flag.Duration("vip-release-grace", daemon.DefaultReleaseGrace, "release a named VIP's addresses and name after it has had no backend for this long (0: the default; negative: never)")
	hold := flag.Duration("fail-open-hold", daemon.DefaultFailOpenHold, "keep a VIP programmed this long after all its backends vanished with their nodes' liveness (a cut-off node's records expire with its lease); 0: the default; negative: until they return")
	reject := flag.Duration("vip-reject-grace", daemon.DefaultRejectGrace, "keep refusing new connections to a VIP this long after its last backend went, then withdraw it (a named VIP at the latest when it is released); 0: the default; negative: until released (IP VIPs: until restart)")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	flag.Parse()
	log, err := logging.New(*logLevel)
	if err != nil {
		fail(2, "%v", err)
	}
	if *endpoints == "" {
		fail(2, "--etcd-endpoints is required")
	}
	agent := daemon.AgentOptions{Agent: *mesosAgent, Poll: *mesosPoll}
	if *mesosAgentIP != "" {
		if agent.AgentIP, err = netip.ParseAddr(*mesosAgentIP); err != nil {
			fail(2, "--mesos-agent-ip %q: %v", *mesosAgentIP, err)
		}
	}
	agent.Overlays = []netip.Prefix{}
	for _, f := range strings.Split(*overlays, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			fail(2, "--overlay-subnets %q: %v", f, err)
		}
		agent.Overlays = append(agent.Overlays, p.Masked())
	}
	store, err := cluster.Connect(cluster.Options{Endpoints: strings.Split(*endpoints, ",")})
	if err != nil {
		fail(1, "%v", err)
	}
	defer store.Close()
	opts := daemon.Options{Store: store, Kernel: dataplane.NewNFTables(), Routes: vroute.Netlink{}, Node: *node,
		HTTPAddr: *httpAddr, SyncInterval: *interval, Mesos: agent, ReleaseGrace: *grace, FailOpenHold: *hold, RejectGrace: *reject, Log: log}
	if ct, err := dataplane.NewNetlinkConntrack(netns.None()); err != nil {
		log.Warn("no conntrack socket: stale UDP flows of removed backends are not deleted", "err", err)
	} else {
		defer ct.Close()
		opts.Conntrack = ct
	}
	d, err := daemon.New(opts)
	if err != nil {
		fail(2, "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := d.Run(ctx); err != nil {
		log.Error("dcnet-l4lb failed", "err", err)
		os.Exit(1)
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "dcnet-l4lb: "+format+"\n", args...)
	os.Exit(code)
}
