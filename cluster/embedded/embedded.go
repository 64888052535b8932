// Package embedded runs a single-member etcd inside the calling process,
// for a one-node cluster that needs no setup (overlayd without
// --etcd-endpoints) and for tests. It is apart from package cluster so that
// clients of the store do not link etcd's server.
package embedded

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

const (
	readyTimeout = 60 * time.Second
	quotaBytes   = 2 << 30
)

// Etcd is a single-member etcd running inside this process.
type Etcd struct {
	etcd      *embed.Etcd
	ClientURL string
}

// Start starts a single-member etcd with its data in dir, serving
// clients on clientURL, and waits until it is ready.
func Start(name, dir, clientURL, peerURL string, log *slog.Logger) (*Etcd, error) {
	cu, err := url.Parse(clientURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd client URL %q: %w", clientURL, err)
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd peer URL %q: %w", peerURL, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded etcd dir: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = filepath.Clean(dir)
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(name)
	// Shutdown makes etcd log "errors" about closed listeners; real
	// failures reach us through StartEtcd, ReadyNotify and Err.
	cfg.LogLevel = "fatal"
	cfg.LogOutputs = []string{"stderr"}
	cfg.QuotaBackendBytes = quotaBytes
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s on %s: %w", dir, clientURL, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(readyTimeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after %s", dir, readyTimeout)
	}
	log.Info("embedded etcd ready", "dir", dir, "client", clientURL)
	return &Etcd{etcd: e, ClientURL: clientURL}, nil
}

// Close stops the embedded etcd.
func (e *Etcd) Close() { e.etcd.Close() }
