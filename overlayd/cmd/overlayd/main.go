// Command overlayd is dcnet's node daemon: overlay subnet lease, node bridge,
// masquerade, container address allocation and endpoint records.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dcnet/dcnet/internal/logging"
	"github.com/dcnet/dcnet/overlayd"
	"github.com/dcnet/dcnet/overlayd/config"
)

var version = "dev"

func main() {
	cfgPath := flag.String("config", "", "JSON config file (see conf/overlayd.json); defaults when empty")
	runDir := flag.String("run-dir", "/run/dcnet", "directory of the API socket overlayd.sock")
	stateDir := flag.String("state-dir", "/var/lib/dcnet", "directory of durable state (overlayd.db, embedded etcd)")
	node := flag.String("node-name", "", "node name (overrides the config; empty: the config's, whose empty nodeName is the host name)")
	underlay := flag.String("underlay-ip", "", "node underlay address (overrides the config; empty: the config's, whose empty underlayIP is found from the routes)")
	endpoints := flag.String("etcd-endpoints", "", "comma-separated external etcd endpoints (overrides the config; empty: the config's, whose empty endpoints mean an embedded etcd)")
	etcdCA := flag.String("etcd-cafile", "", "etcd CA certificate (overrides the config; empty: the config's)")
	etcdCert := flag.String("etcd-certfile", "", "etcd client certificate (overrides the config; empty: the config's)")
	etcdKey := flag.String("etcd-keyfile", "", "etcd client key (overrides the config; empty: the config's)")
	metrics := flag.String("metrics-addr", "-", "Prometheus metrics address (overrides the config; \"\" disables, as in the config)")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	log, err := logging.New(*logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "overlayd: %v\n", err)
		os.Exit(2)
	}

	cfg, err := config.Load(*cfgPath)
	if err == nil {
		err = override(&cfg, *node, *underlay, *endpoints, *etcdCA, *etcdCert, *etcdKey, *metrics)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "overlayd: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := overlayd.Run(ctx, overlayd.Options{Config: cfg, RunDir: *runDir, StateDir: *stateDir, Version: version, Log: log}); err != nil {
		log.Error("overlayd failed", "err", err)
		os.Exit(1)
	}
}

func override(cfg *config.Config, node, underlay, endpoints, ca, cert, key, metrics string) error {
	if node != "" {
		cfg.NodeName = node
	}
	if underlay != "" {
		cfg.UnderlayIP = underlay
	}
	if endpoints != "" {
		cfg.Etcd.Endpoints = strings.Split(endpoints, ",")
	}
	if ca != "" {
		cfg.Etcd.CAFile = ca
	}
	if cert != "" {
		cfg.Etcd.CertFile = cert
	}
	if key != "" {
		cfg.Etcd.KeyFile = key
	}
	if metrics != "-" {
		cfg.MetricsAddr = metrics
	}
	return cfg.Validate()
}
