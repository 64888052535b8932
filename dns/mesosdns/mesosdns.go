package mesosdns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/httpapi"
	"github.com/dcnet/dcnet/dns/mesoszone"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/taskzone"
)

// Mode is the name of this mode (dcnet-dns --mode).
const Mode = "mesos-dns"

var _ httpapi.Snapshotter = (*mesoszone.Sink)(nil)

// Daemon is one master's Mesos-DNS; New builds it, Run serves.
type Daemon struct {
	// cfg is the Config with its defaults resolved.
	cfg     Config
	version string
	log     *slog.Logger
	// store is the cluster store; nil without Config.Etcd.
	store *cluster.Store
	// elector campaigns for the task-name publisher; nil without etcd.
	elector *taskzone.Elector
	sink    *mesoszone.Sink
	src     *mesoszone.Source
	res     *resolver.Resolver
}

// New validates cfg and builds the server: it connects the etcd client
// (without waiting for etcd), reads resolv.conf when no upstream is
// given, and reads the Mesos state once (a state file that cannot be read
// is an error; masters that do not answer yet are asked again by Run).
// version is what /v1/version reports. Its errors are configuration
// errors.
func New(cfg Config, version string, log *slog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	d := &Daemon{cfg: cfg, version: version, log: log}
	var pub *taskzone.Publisher
	if len(cfg.Etcd) > 0 {
		store, err := cluster.Connect(cluster.Options{Endpoints: cfg.Etcd})
		if err != nil {
			return nil, err
		}
		d.store = store
		// Several masters poll the same state; only the elected one writes,
		// so an older state on one master cannot undo a newer one's names.
		pub = taskzone.NewPublisher(taskzone.EtcdStore{Store: store})
	}
	mesosZone := server.NewRecordSetZoneWith(cfg.ZoneName(), cfg.Zone, nil)
	d.sink = mesoszone.NewSink(log, cfg.Mesos.Records, mesosZone, nil, pub)
	d.sink.SetListener(cfg.Mesos.Listener)
	if pub != nil {
		d.elector = &taskzone.Elector{Client: d.store.Client, ID: publisherID(cfg), Log: log, OnElected: d.sink.Publish}
		pub.Leader = d.elector.Leader
	}
	var err error
	if d.src, err = mesoszone.NewSource(cfg.Mesos, d.sink, log); err == nil {
		d.res, err = resolver.New(cfg.DNS, log, mesosZone)
	}
	if err == nil {
		err = d.src.Prime(context.Background())
	}
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// close releases what New opened.
func (d *Daemon) close() {
	d.sink.Stop()
	if d.store != nil {
		d.store.Close()
	}
}

// Run serves until ctx ends or a listener fails, then resigns the
// publisher role and releases what New opened; call it once. Its errors
// are not configuration errors.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.close()
	ctx, cancel := context.WithCancel(ctx)
	var elected chan struct{} // closed when the elector has resigned
	if d.elector != nil {
		elected = make(chan struct{})
		go func() { defer close(elected); d.elector.Run(ctx) }()
	}
	defer func() {
		// Publishes in flight end with the run, before the elector's
		// resignation is awaited and the store closed.
		cancel()
		d.sink.Stop()
		if elected != nil {
			<-elected
		}
	}()
	srcErr := make(chan error, 1)
	go func() {
		if err := d.src.Run(ctx); err != nil {
			srcErr <- err
			cancel()
		}
	}()
	if d.cfg.HTTPAddr != "" {
		api := httpapi.NewMesos(d.version, d.cfg.MesosConfig(), d.sink, d.res.Metrics.HTTPHandler(), httpapi.New(d.version, nil, d.res.Zones...))
		api.NoAXFR = d.cfg.NoEnumeration
		if err := httpapi.Serve(ctx, d.log, d.cfg.HTTPAddr, api.Handler()); err != nil {
			return err
		}
	}
	ready := func() {
		d.log.Info("dcnet-dns: serving", "mode", Mode, "listen", strings.Join(d.cfg.DNS.Listen, ","), "dns", !d.cfg.DNSOff, "http", d.cfg.HTTPAddr,
			"masters", strings.Join(d.cfg.Mesos.Masters, ","), "zk", d.cfg.Mesos.Zk, "state_file", d.cfg.Mesos.StateFile, "refresh", d.cfg.Mesos.Refresh,
			"config", d.cfg.File)
	}
	var err error
	if d.cfg.DNSOff {
		ready()
		<-ctx.Done()
	} else {
		err = d.res.Run(ctx, ready)
	}
	select {
	case serr := <-srcErr:
		return serr
	default:
		return err
	}
}

// publisherID names this master in the task-name publisher election: its
// host name, first global unicast address (masters share a host name in
// network namespaces, and often a wildcard listen address), pid and
// addresses.
func publisherID(cfg Config) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	ip := "no-address"
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
				ip = n.IP.String()
				break
			}
		}
	}
	return fmt.Sprintf("%s %s pid %d dns %s http %s", host, ip, os.Getpid(), strings.Join(cfg.DNS.Listen, ","), cfg.HTTPAddr)
}
