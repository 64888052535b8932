// Package pools stores Edge-LB-style pool documents in etcd
// (cluster.PoolsPrefix) and follows one of them for a dcnet-l7lb --pool
// instance, with a copy on local disk.
//
// Writes validate the document first (l7lbapi.ParsePool names every
// wrong field) and store its normalized JSON with a transaction: create
// only if absent, update and delete only if present, so two operators
// racing cannot silently overwrite each other's new pool. Every instance
// of a pool watches the pool's key; a document that does not validate
// (written by a newer dcnet, or by hand) is reported and the last good
// one stays in force; the last good one is also written to local disk,
// so an instance that restarts while etcd is down serves it.
package pools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
)

// Errors of the store (wrapped; test with errors.Is).
var (
	ErrNotFound    = errors.New("no such pool")
	ErrExists      = errors.New("the pool exists")
	ErrUnavailable = errors.New("the cluster store is unreachable")
)

// opTimeout bounds one store operation.
const opTimeout = 5 * time.Second

// Store reads and writes pools.
type Store struct {
	cli *clientv3.Client
}

// NewStore returns a store on s.
func NewStore(s *cluster.Store) *Store { return &Store{cli: s.Client} }

func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
}

// Create stores a new pool from a JSON or YAML document.
func (s *Store) Create(ctx context.Context, doc []byte) (l7lbapi.PoolEntry, error) {
	p, warns, err := l7lbapi.ParsePool(doc)
	if err != nil {
		return l7lbapi.PoolEntry{}, err
	}
	data, _ := json.Marshal(p)
	key := cluster.PoolKey(p.Name)
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(data))).Commit()
	if err != nil {
		return l7lbapi.PoolEntry{}, unavailable("create pool "+p.Name, err)
	}
	if !resp.Succeeded {
		return l7lbapi.PoolEntry{}, fmt.Errorf("create pool %s: %w: update it instead", p.Name, ErrExists)
	}
	return l7lbapi.PoolEntry{Pool: p, Revision: resp.Header.Revision, Warnings: warns}, nil
}

// Update replaces the pool name by a document naming the same pool.
func (s *Store) Update(ctx context.Context, name string, doc []byte) (l7lbapi.PoolEntry, error) {
	p, warns, err := l7lbapi.ParsePool(doc)
	if err != nil {
		return l7lbapi.PoolEntry{}, err
	}
	if p.Name != name {
		return l7lbapi.PoolEntry{}, &l7lbapi.ValidationError{Errors: []l7lbapi.FieldError{{Field: "name",
			Message: fmt.Sprintf("%q, but the pool updated is %q: a pool cannot be renamed (create the new one, then delete the old)", p.Name, name)}}}
	}
	data, _ := json.Marshal(p)
	key := cluster.PoolKey(name)
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), ">", 0)).
		Then(clientv3.OpPut(key, string(data))).Commit()
	if err != nil {
		return l7lbapi.PoolEntry{}, unavailable("update pool "+name, err)
	}
	if !resp.Succeeded {
		return l7lbapi.PoolEntry{}, fmt.Errorf("update pool %s: %w: create it first", name, ErrNotFound)
	}
	return l7lbapi.PoolEntry{Pool: p, Revision: resp.Header.Revision, Warnings: warns}, nil
}

// Delete removes a pool.
func (s *Store) Delete(ctx context.Context, name string) error {
	if msg := l7lbapi.ValidPoolName(name); msg != "" {
		return fmt.Errorf("delete pool: name %s: %w", msg, ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Delete(ctx, cluster.PoolKey(name))
	if err != nil {
		return unavailable("delete pool "+name, err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("delete pool %s: %w", name, ErrNotFound)
	}
	return nil
}

// Get reads one pool.
func (s *Store) Get(ctx context.Context, name string) (l7lbapi.PoolEntry, error) {
	if msg := l7lbapi.ValidPoolName(name); msg != "" {
		return l7lbapi.PoolEntry{}, fmt.Errorf("pool name %s: %w", msg, ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, cluster.PoolKey(name))
	if err != nil {
		return l7lbapi.PoolEntry{}, unavailable("read pool "+name, err)
	}
	if len(resp.Kvs) == 0 {
		return l7lbapi.PoolEntry{}, fmt.Errorf("pool %s: %w", name, ErrNotFound)
	}
	return decodeEntry(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// List reads every pool, by name.
func (s *Store) List(ctx context.Context) ([]l7lbapi.PoolEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, cluster.PoolsPrefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, unavailable("list pools", err)
	}
	out := []l7lbapi.PoolEntry{}
	for _, kv := range resp.Kvs {
		e, err := decodeEntry(kv.Value, kv.ModRevision)
		if err != nil {
			// Listed anyway, so that it can be seen and replaced.
			e = l7lbapi.PoolEntry{Pool: l7lbapi.Pool{Name: strings.TrimPrefix(string(kv.Key), cluster.PoolsPrefix)},
				Revision: kv.ModRevision, Warnings: []string{err.Error()}}
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeEntry(value []byte, rev int64) (l7lbapi.PoolEntry, error) {
	p, _, err := l7lbapi.ParsePool(value)
	if err != nil {
		return l7lbapi.PoolEntry{}, fmt.Errorf("stored pool does not validate: %w", err)
	}
	return l7lbapi.PoolEntry{Pool: p, Revision: rev}, nil
}
