package main

import (
	"fmt"
	"log/slog"

	"github.com/dcnet/dcnet/l7lb/daemon"
	"github.com/dcnet/dcnet/l7lb/model"
)

// haproxyOptions are the flags of the applier: where HAProxy and its
// files are, and which applier to use.
type haproxyOptions struct {
	// Binary is the haproxy executable (--haproxy).
	Binary string
	// ConfigDir holds the rendered haproxy.cfg, its backups and the
	// certificates (--haproxy-dir).
	ConfigDir string
	// RunDir holds the master and stats sockets (--haproxy-run-dir).
	RunDir string
	// Applier names the applier (--applier).
	Applier string
}

// The appliers this binary has. "log" builds and reports without an
// HAProxy (daemon.LogApplier); the HAProxy applier (l7lb/apply, built
// beside the sources) registers itself here as "haproxy" and becomes
// the default.
var appliers = []string{"log"}

const defaultApplier = "log"

// newApplier makes the applier --applier names.
func newApplier(o haproxyOptions, log *slog.Logger) (model.Applier, error) {
	switch o.Applier {
	case "log":
		log.Warn("--applier log: configurations are built and reported, no HAProxy is run", "haproxy-dir", o.ConfigDir)
		return &daemon.LogApplier{Log: log}, nil
	}
	return nil, fmt.Errorf("--applier %q: this dcnet-l7lb has %v", o.Applier, appliers)
}
