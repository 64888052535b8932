// Command dcnet-l4lb is dcnet's per-node VIP load balancer: it reads VIPs
// and backends from etcd and programs them into the node's nftables.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/dcnet/dcnet/internal/logging"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dcnet/dcnet/l4lb/daemon"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/overlayd/cluster"
)

func main() {
	endpoints := flag.String("etcd-endpoints", "", "comma-separated etcd endpoints (required)")
	node := flag.String("node-name", "", "node name (default: host name)")
	httpAddr := flag.String("http-addr", daemon.DefaultHTTPAddr, "address of the /v1/vips API (\"\" disables)")
	interval := flag.Duration("sync-interval", daemon.DefaultSyncInterval, "periodic sync that repairs the nftables tables")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	flag.Parse()
	log, err := logging.New(*logLevel)
	if err != nil {
		fail(2, "%v", err)
	}
	if *endpoints == "" {
		fail(2, "--etcd-endpoints is required")
	}
	if *node == "" {
		h, err := os.Hostname()
		if err != nil {
			fail(2, "--node-name not given and no host name: %v", err)
		}
		*node = h
	}
	store, err := cluster.Connect(cluster.Options{Endpoints: strings.Split(*endpoints, ",")})
	if err != nil {
		fail(1, "%v", err)
	}
	defer store.Close()
	d, err := daemon.New(daemon.Options{Store: store, Kernel: dataplane.NewNFTables(), Node: *node,
		HTTPAddr: *httpAddr, SyncInterval: *interval, Log: log})
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
