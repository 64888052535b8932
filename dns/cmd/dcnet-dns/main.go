// Command dcnet-dns is the cluster DNS server. In the default mode "node"
// it is the per-node server (dcos-dns "spartan", package dns/node): the
// cluster zones answered fresh, everything else forwarded through a
// cache. In mode "mesos-dns" it is Mesos-DNS on the masters (package
// dns/mesosdns): the mesos. zone from the polled Mesos master state on
// port 61053, its HTTP API on 8123, and the task names published to etcd
// for every node.
//
// main only wires: the flags fill the mode's Config (flags.go), New
// builds the daemon and Run serves until SIGINT or SIGTERM. Exit status 2
// is a configuration error (flags, Config.Validate, New), 1 a failure
// while running.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dcnet/dcnet/dns/mesosdns"
	"github.com/dcnet/dcnet/dns/node"
	"github.com/dcnet/dcnet/internal/logging"
)

// version is reported by /v1/version; set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	f := newFlags(flag.CommandLine)
	flag.Parse()
	log, err := logging.New(f.logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dcnet-dns: %v\n", err)
		os.Exit(2)
	}
	d, err := newDaemon(f, log)
	if err != nil {
		log.Error("dcnet-dns", "mode", f.mode, "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := d.Run(ctx); err != nil {
		log.Error("dcnet-dns", "mode", f.mode, "err", err)
		stop()
		os.Exit(1)
	}
}

// daemon is either mode's server.
type daemon interface {
	Run(ctx context.Context) error
}

// newDaemon builds the daemon of the mode the flags name.
func newDaemon(f *flags, log *slog.Logger) (daemon, error) {
	switch f.mode {
	case node.Mode:
		c := node.DefaultConfig()
		if f.config != "" {
			var err error
			if c, err = node.LoadConfigFile(f.config); err != nil {
				return nil, err
			}
		}
		d, err := node.New(f.applyNode(c), version, log)
		if err != nil {
			return nil, err
		}
		return d, nil
	case mesosdns.Mode:
		c := mesosdns.DefaultConfig()
		if f.config != "" {
			var ignored []string
			var err error
			if c, ignored, err = mesosdns.LoadConfigFile(f.config); err != nil {
				return nil, err
			}
			if len(ignored) > 0 {
				log.Info("dcnet-dns: config fields of older Mesos-DNS versions ignored, as Mesos-DNS does", "config", f.config, "fields", ignored)
			}
		}
		d, err := mesosdns.New(f.applyMesosDNS(c), version, log)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("mode %q: want %s or %s", f.mode, node.Mode, mesosdns.Mode)
}
