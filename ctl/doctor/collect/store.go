package collect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/ctl/doctor"
	"github.com/dcnet/dcnet/overlayd/api"
)

var _ doctor.Store = (*Store)(nil)

// Store reads the cluster store.
type Store struct{ s *cluster.Store }

// DefaultEmbeddedEndpoint is where overlayd's embedded etcd listens unless
// configured otherwise (overlayd's etcd.clientURL).
const DefaultEmbeddedEndpoint = "http://127.0.0.1:2379"

// Endpoints returns where the store is: opts' endpoints when given, else
// the ones overlayd reports in its status (st; nil when overlayd did not
// answer), else the embedded default.
func Endpoints(given []string, st *api.Status) ([]string, error) {
	switch {
	case len(given) > 0:
		return given, nil
	case st == nil:
		return nil, errors.New("overlayd did not say where the store is: pass --etcd-endpoints")
	case len(st.StoreEndpoints) > 0:
		return st.StoreEndpoints, nil
	case st.Store != "" && st.Store != "embedded":
		return strings.Split(st.Store, ","), nil
	}
	return []string{DefaultEmbeddedEndpoint}, nil
}

// Open connects to the store (see Endpoints) and returns it with the head
// of the etcdctl command lines that reach it.
func Open(opts cluster.Options, st *api.Status) (doctor.Store, doctor.Etcdctl, error) {
	eps, err := Endpoints(opts.Endpoints, st)
	if err != nil {
		return nil, "", err
	}
	opts.Endpoints = eps
	s, err := cluster.Connect(opts)
	if err != nil {
		return nil, "", err
	}
	head := "etcdctl --endpoints " + strings.Join(eps, ",")
	for _, f := range [][2]string{{"--cacert", opts.CAFile}, {"--cert", opts.CertFile}, {"--key", opts.KeyFile}} {
		if f[1] != "" {
			head += " " + f[0] + " " + f[1]
		}
	}
	return &Store{s: s}, doctor.Etcdctl(head), nil
}

// Get implements doctor.Store.
func (s *Store) Get(ctx context.Context, key string) (*doctor.KV, error) {
	resp, err := s.s.Client.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", key, s.s, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	kv := resp.Kvs[0]
	return &doctor.KV{Key: string(kv.Key), Value: kv.Value, Lease: kv.Lease}, nil
}

// List implements doctor.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]doctor.KV, error) {
	resp, err := s.s.Client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", prefix, s.s, err)
	}
	out := make([]doctor.KV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out[i] = doctor.KV{Key: string(kv.Key), Value: kv.Value, Lease: kv.Lease}
	}
	return out, nil
}

// Close implements doctor.Store.
func (s *Store) Close() error { return s.s.Close() }
