package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

const dialTimeout = 5 * time.Second

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

// OpTimeout is the bound of one store operation.
const OpTimeout = 5 * time.Second

// OpContext bounds one store operation by OpTimeout.
func OpContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, OpTimeout)
}
