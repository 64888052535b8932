package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/l7lb/apply"
	"github.com/dcnet/dcnet/l7lb/daemon"
	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/render"
)

// haproxyOptions are the flags of the applier: where HAProxy and its
// files are, and which applier to use.
type haproxyOptions struct {
	// Binary is the haproxy executable (--haproxy).
	Binary string
	// ConfigDir holds haproxy.cfg and the applier's generations
	// (--haproxy-dir).
	ConfigDir string
	// RunDir holds the master and stats sockets (--haproxy-run-dir).
	RunDir string
	// StatsBind serves HAProxy's stats page, Prometheus exporter and
	// health URI (--stats-bind; "" none).
	StatsBind string
	// HardStopAfter bounds old workers after a reload (--hard-stop-after).
	HardStopAfter time.Duration
	// Applier names the applier (--applier).
	Applier string
}

// The appliers: "haproxy" runs and supervises Debian's HAProxy 2.6
// (l7lb/haproxy) driven by l7lb/apply; "log" builds and reports without
// an HAProxy (daemon.LogApplier: dry runs, source debugging).
var appliers = []string{"haproxy", "log"}

const defaultApplier = "haproxy"

// newApplier makes the applier --applier names; stop ends what it
// started (HAProxy, by PID) after the daemon returns.
func newApplier(o haproxyOptions, log *slog.Logger) (a model.Applier, stop func(), err error) {
	stop = func() {}
	switch o.Applier {
	case "log":
		log.Warn("--applier log: configurations are built and reported, no HAProxy is run")
		return &daemon.LogApplier{Log: log}, stop, nil
	case "haproxy":
	default:
		return nil, stop, fmt.Errorf("--applier %q: this dcnet-l7lb has %v", o.Applier, appliers)
	}
	var stats netip.AddrPort
	if o.StatsBind != "" {
		if stats, err = netip.ParseAddrPort(o.StatsBind); err != nil {
			return nil, stop, fmt.Errorf("--stats-bind %q: want ADDRESS:PORT (0.0.0.0:9090 for every IPv4 address)", o.StatsBind)
		}
	}
	for _, dir := range []string{o.ConfigDir, o.RunDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, stop, fmt.Errorf("haproxy directory: %w", err)
		}
	}
	inst := haproxy.New(haproxy.Options{
		Command:      []string{o.Binary},
		ConfigPath:   filepath.Join(o.ConfigDir, "haproxy.cfg"),
		MasterSocket: filepath.Join(o.RunDir, "master.sock"),
		StatsSocket:  filepath.Join(o.RunDir, "admin.sock"),
		Logger:       log,
	})
	ap, err := apply.New(inst, apply.Options{Dir: filepath.Join(o.ConfigDir, "state"), Logger: log,
		Render: render.Options{StatsBind: stats, HardStopAfter: o.HardStopAfter}})
	if err != nil {
		return nil, stop, err
	}
	return haproxyApplier{Applier: ap, path: inst.ConfigPath()}, func() {
		if err := inst.Stop(); err != nil {
			log.Error("stop haproxy", "err", err)
		}
	}, nil
}

// haproxyApplier is l7lb/apply's Applier (its Run and Collector too)
// that also shows the running haproxy.cfg (model.ConfigReader), for
// Marathon-LB's /_haproxy_getconfig.
type haproxyApplier struct {
	*apply.Applier
	path string
}

var _ model.ConfigReader = haproxyApplier{}

// HAProxyConfig implements model.ConfigReader.
func (h haproxyApplier) HAProxyConfig() ([]byte, error) { return os.ReadFile(h.path) }
