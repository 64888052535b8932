package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Prefix is the root of every dcnet key.
const Prefix = "/dcnet/v1/"

// Key prefixes under Prefix.
const (
	NodesPrefix     = Prefix + "nodes/"
	SubnetsPrefix   = Prefix + "subnets/"
	AlivePrefix     = Prefix + "alive/"
	EndpointsPrefix = Prefix + "endpoints/"
)

const (
	dialTimeout      = 5 * time.Second
	embedReadyTimout = 60 * time.Second
	embedQuotaBytes  = 2 << 30
)

// Options say how to reach etcd.
type Options struct {
	Endpoints []string
	CAFile    string
	CertFile  string
	KeyFile   string
}

// Store is a connected etcd client with dcnet's operations.
type Store struct {
	Client *clientv3.Client
	desc   string
}

// Connect returns a Store for external endpoints. It does not wait for the
// cluster to answer: etcd may be down at start and come back later.
func Connect(opts Options) (*Store, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("connect etcd: no endpoints")
	}
	cfg := clientv3.Config{
		Endpoints:            opts.Endpoints,
		DialTimeout:          dialTimeout,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		Logger:               zap.NewNop(),
	}
	if opts.CAFile != "" || opts.CertFile != "" {
		info := transport.TLSInfo{TrustedCAFile: opts.CAFile, CertFile: opts.CertFile, KeyFile: opts.KeyFile}
		tc, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd TLS (ca %q cert %q key %q): %w", opts.CAFile, opts.CertFile, opts.KeyFile, err)
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect etcd %v: %w", opts.Endpoints, err)
	}
	return &Store{Client: cli, desc: fmt.Sprint(opts.Endpoints)}, nil
}

// Close closes the client.
func (s *Store) Close() error { return s.Client.Close() }

// String describes where the store is.
func (s *Store) String() string { return s.desc }

// Embedded is a single-member etcd running inside this process.
type Embedded struct {
	etcd      *embed.Etcd
	ClientURL string
}

// StartEmbedded starts a single-member etcd with its data in dir, serving
// clients on clientURL, and waits until it is ready.
func StartEmbedded(name, dir, clientURL, peerURL string, log *slog.Logger) (*Embedded, error) {
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
	cfg.QuotaBackendBytes = embedQuotaBytes
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
	case <-time.After(embedReadyTimout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after %s", dir, embedReadyTimout)
	}
	log.Info("embedded etcd ready", "dir", dir, "client", clientURL)
	return &Embedded{etcd: e, ClientURL: clientURL}, nil
}

// Close stops the embedded etcd.
func (e *Embedded) Close() { e.etcd.Close() }

// ctxTimeout is the bound of one store operation.
const opTimeout = 5 * time.Second

func opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, opTimeout)
}
