// Command dcnet-l7lb is dcnet's north-south load balancer: one process
// per HAProxy instance, serving Marathon apps by Marathon-LB's labels
// (--marathon, --group) or one Edge-LB-style pool from etcd (--pool),
// with backends from Marathon, the Mesos operator API and dcnet's
// endpoint records.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/logging"
	"github.com/dcnet/dcnet/l7lb/build"
	"github.com/dcnet/dcnet/l7lb/daemon"
	"github.com/dcnet/dcnet/l7lb/endpoints"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/marathon"
	"github.com/dcnet/dcnet/l7lb/mesos"
	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/pools"
	"github.com/dcnet/dcnet/l7lb/render"
	"github.com/dcnet/dcnet/l7lb/source"
)

// flags are dcnet-l7lb's command line.
type flags struct {
	marathon, groups, sslCerts, httpBind, httpsBind, selfID string
	strict                                                  bool
	minPort, maxPort                                        int
	marathonTimeout, sseIdle, marathonResync                time.Duration
	pool                                                    string
	mesos                                                   string
	mesosResync                                             time.Duration
	etcd, etcdCA, etcdCert, etcdKey                         string
	etcdResync                                              time.Duration
	endpoints                                               bool
	haproxy                                                 haproxyOptions
	httpAddr, stateDir                                      string
	syncInterval, staleAfter                                time.Duration
	logLevel                                                string
}

func parse(fs *flag.FlagSet, args []string) (flags, error) {
	var f flags
	fs.StringVar(&f.marathon, "marathon", "", "comma-separated Marathon URLs (http://m1:8080,...), tried in order; required in Marathon-LB mode")
	fs.StringVar(&f.groups, "group", "external", "comma-separated HAPROXY_GROUPs to serve ('*': every app) (Marathon-LB mode)")
	fs.BoolVar(&f.strict, "strict-mode", false, "serve only ports labelled HAPROXY_{n}_ENABLED=true (Marathon-LB mode)")
	fs.StringVar(&f.sslCerts, "ssl-certs", "", "comma-separated PEM files of the :443 frontend, the first the default (Marathon-LB mode)")
	fs.StringVar(&f.httpBind, "http-bind", "*:80", "bind of the vhost frontend marathon_http_in (\"\": none)")
	fs.StringVar(&f.httpsBind, "https-bind", "*:443", "bind of the TLS vhost frontend marathon_https_in (\"\": none)")
	fs.IntVar(&f.minPort, "min-serv-port-ip-per-task", marathon.DefaultMinAssignedPort, "lowest service port given to IP-per-task apps without one (0: none given, as Marathon-LB)")
	fs.IntVar(&f.maxPort, "max-serv-port-ip-per-task", marathon.DefaultMaxAssignedPort, "highest service port given to IP-per-task apps without one")
	fs.StringVar(&f.selfID, "self-id", "/"+os.Getenv("FRAMEWORK_NAME"), "Marathon app ID of this balancer, never served (Marathon-LB's FRAMEWORK_NAME)")
	fs.DurationVar(&f.marathonTimeout, "marathon-timeout", marathon.DefaultTimeout, "bound of one request to one Marathon, then the next URL is tried")
	fs.DurationVar(&f.sseIdle, "sse-idle-timeout", marathon.DefaultIdle, "reconnect an event stream that brought nothing, not even a heartbeat, for this long")
	fs.DurationVar(&f.marathonResync, "marathon-resync", marathon.DefaultResync, "period of the full re-read of every Marathon app")
	fs.StringVar(&f.pool, "pool", "", "serve this pool from etcd (pool mode) instead of Marathon-LB's labels")
	fs.StringVar(&f.mesos, "mesos-master", "", "comma-separated Mesos master URLs (http://m1:5050,...) for pools' mesos services")
	fs.DurationVar(&f.mesosResync, "mesos-resync", mesos.DefaultResync, "period of the re-subscription that reads the whole Mesos state")
	fs.StringVar(&f.etcd, "etcd-endpoints", "", "comma-separated etcd endpoints (pools, endpoint records, the pools API)")
	fs.StringVar(&f.etcdCA, "etcd-cafile", "", "etcd CA certificate")
	fs.StringVar(&f.etcdCert, "etcd-certfile", "", "etcd client certificate")
	fs.StringVar(&f.etcdKey, "etcd-keyfile", "", "etcd client key")
	fs.DurationVar(&f.etcdResync, "etcd-resync", source.DefaultEtcdResync, "period of the full re-read of the etcd prefixes")
	fs.BoolVar(&f.endpoints, "endpoints", true, "read dcnet's endpoint and Mesos backend records from etcd for the pool's vip and endpointLabel services (pool mode)")
	fs.StringVar(&f.haproxy.Binary, "haproxy", "haproxy", "HAProxy binary")
	fs.StringVar(&f.haproxy.ConfigDir, "haproxy-dir", "/var/lib/dcnet/l7lb/haproxy", "directory of the rendered haproxy.cfg, its backups and certificates")
	fs.StringVar(&f.haproxy.RunDir, "haproxy-run-dir", "/run/dcnet/l7lb", "directory of HAProxy's master and stats sockets")
	fs.StringVar(&f.haproxy.StatsBind, "stats-bind", "0.0.0.0:9090", "HAProxy's stats page, Prometheus exporter and /_haproxy_health_check, as Marathon-LB's :9090 (\"\": none)")
	fs.DurationVar(&f.haproxy.HardStopAfter, "hard-stop-after", render.DefaultHardStopAfter, "after a reload, old HAProxy workers finish their connections within this")
	fs.StringVar(&f.haproxy.Applier, "applier", defaultApplier, "what applies the configuration: "+strings.Join(appliers, ", "))
	fs.StringVar(&f.httpAddr, "http-addr", l7lbapi.DefaultHTTPAddr, "address of the API (status, health, pools, /metrics); \"\": none")
	fs.StringVar(&f.stateDir, "state-dir", "/var/lib/dcnet/l7lb", "directory of the last good configuration and pool (served while the sources are down)")
	fs.DurationVar(&f.syncInterval, "sync-interval", daemon.DefaultSyncInterval, "period of the rebuild and apply without a change")
	fs.DurationVar(&f.staleAfter, "stale-after", daemon.DefaultStaleAfter, "the health check fails when the last successful sync or a source's last full view is older")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return f, fs.Parse(args)
}

func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// bind parses "*:80", "10.0.0.1:80" or "" (none).
func bind(flagName, s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, nil
	}
	b, err := model.ParseBind(s)
	if err != nil || b.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("--%s %q: want *:PORT or ADDRESS:PORT", flagName, s)
	}
	return b, nil
}

// options turns the flags into the daemon's options; close releases
// the etcd client.
func options(f flags, log *slog.Logger) (opts daemon.Options, closeStore func(), err error) {
	closeStore = func() {}
	opts = daemon.Options{Pool: f.pool, HTTPAddr: f.httpAddr, StateDir: f.stateDir, SyncInterval: f.syncInterval,
		StaleAfter: f.staleAfter, Log: log}
	mlb := build.DefaultMarathonLB()
	mlb.Groups, mlb.StrictMode, mlb.SSLCerts, mlb.SelfID = list(f.groups), f.strict, list(f.sslCerts), f.selfID
	mlb.MinAssignedPort, mlb.MaxAssignedPort = f.minPort, f.maxPort
	if mlb.HTTP, err = bind("http-bind", f.httpBind); err != nil {
		return opts, closeStore, err
	}
	if mlb.HTTPS, err = bind("https-bind", f.httpsBind); err != nil {
		return opts, closeStore, err
	}
	opts.MarathonLB = mlb
	if f.marathon != "" {
		c, err := marathon.NewClient(list(f.marathon), f.marathonTimeout)
		if err != nil {
			return opts, closeStore, fmt.Errorf("--marathon: %w", err)
		}
		opts.Marathon = marathon.NewSource(marathon.Options{Client: c, Resync: f.marathonResync, Idle: f.sseIdle, Log: log})
	}
	if f.mesos != "" && f.pool == "" {
		log.Warn("--mesos-master ignored: Mesos tasks are selected by pools (--pool) only")
	} else if f.mesos != "" {
		if opts.Mesos, err = mesos.New(mesos.Options{Masters: list(f.mesos), Resync: f.mesosResync, Log: log}); err != nil {
			return opts, closeStore, fmt.Errorf("--mesos-master: %w", err)
		}
	}
	if f.etcd == "" {
		if f.pool != "" {
			return opts, closeStore, errors.New("--pool needs the cluster store: give --etcd-endpoints")
		}
		return opts, closeStore, nil
	}
	store, err := cluster.Connect(cluster.Options{Endpoints: list(f.etcd), CAFile: f.etcdCA, CertFile: f.etcdCert, KeyFile: f.etcdKey})
	if err != nil {
		return opts, closeStore, err
	}
	closeStore = func() { store.Close() }
	opts.PoolStore = pools.NewStore(store)
	if f.endpoints && f.pool != "" {
		opts.Endpoints = endpoints.New(store, f.etcdResync, log)
	}
	if f.pool != "" {
		if opts.PoolSource, err = pools.NewSource(store, f.pool, f.stateDir, f.etcdResync, log); err != nil {
			return opts, closeStore, fmt.Errorf("--pool: %w", err)
		}
	}
	return opts, closeStore, nil
}

func main() {
	fs := flag.NewFlagSet("dcnet-l7lb", flag.ExitOnError)
	f, _ := parse(fs, os.Args[1:])
	log, err := logging.New(f.logLevel)
	if err != nil {
		fail(2, "%v", err)
	}
	opts, closeStore, err := options(f, log)
	defer closeStore()
	if err != nil {
		fail(2, "%v", err)
	}
	var stopApplier func()
	if opts.Applier, stopApplier, err = newApplier(f.haproxy, log); err != nil {
		fail(1, "%v", err)
	}
	defer stopApplier()
	d, err := daemon.New(opts)
	if err != nil {
		fail(2, "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := d.Run(ctx); err != nil {
		log.Error("dcnet-l7lb failed", "err", err)
		stopApplier()
		os.Exit(1)
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "dcnet-l7lb: "+format+"\n", args...)
	os.Exit(code)
}
