package taskzone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/records"
)

// DefaultResync is how often unchanged names are compared with etcd again.
const DefaultResync = 5 * time.Minute

// Fence conditions a transaction on a leadership term: it applies only
// while Key exists with create revision Rev (the publisher's election key,
// see Elector).
type Fence struct {
	Key string
	Rev int64
}

// ErrNotLeader is what a fenced transaction returns once its term is over.
var ErrNotLeader = errors.New("this master is no longer the task-name publisher")

// Store is where the task names are published.
type Store interface {
	// List returns every key under prefix with its value; it returns
	// within ctx's deadline.
	List(ctx context.Context, prefix string) (map[string][]byte, error)
	// Txn applies puts and deletes atomically; at most cluster.MaxTxnOps in all.
	// With a fence it applies them only while the fence holds, else it
	// returns ErrNotLeader.
	Txn(ctx context.Context, fence *Fence, puts []cluster.KV, deletes []string) error
}

// Stats describe one Publish.
type Stats struct {
	// Names is the number of names published.
	Names int
	// Puts, Deletes and Txns count what was written.
	Puts, Deletes, Txns int
	// Standby is set when another master is the publisher and nothing was
	// compared or written.
	Standby bool
}

// Wrote reports whether anything was written.
func (s Stats) Wrote() bool { return s.Txns > 0 }

// Publisher writes the task names under Prefix, as a diff against etcd.
type Publisher struct {
	store Store
	// Resync compares unchanged names with etcd again after this long
	// (0: DefaultResync).
	Resync time.Duration
	// Leader, when set, says whether this master is the publisher and the
	// fence of its term (Elector.Leader); Publish writes only while it is,
	// every transaction fenced. Nil: always publish, unfenced (one master).
	Leader func() (Fence, bool)

	mu     sync.Mutex
	lastRS *records.RecordSet
	last   map[string][]byte
	lastAt time.Time
	term   Fence // of the last publish
}

// NewPublisher returns a publisher writing to store.
func NewPublisher(store Store) *Publisher { return &Publisher{store: store} }

// Publish makes the keys under Key hold rs's task names: unless the same
// names were published less than Resync ago, it reads the keys, then puts
// the names whose value differs and deletes the others, in transactions
// of at most cluster.MaxTxnOps. A failed publish is redone whole by the next. With
// Leader set it does nothing (Stats.Standby) unless this master is the
// publisher, and the first publish of each term compares with etcd. Safe
// for concurrent use.
func (p *Publisher) Publish(ctx context.Context, rs *records.RecordSet) (Stats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var fence *Fence
	if p.Leader != nil {
		f, ok := p.Leader()
		if !ok {
			p.last, p.lastRS = nil, nil
			return Stats{Standby: true}, nil
		}
		if f != p.term {
			p.last, p.lastRS, p.term = nil, nil, f
		}
		fence = &f
	}
	resync := p.Resync
	if resync <= 0 {
		resync = DefaultResync
	}
	fresh := p.last != nil && time.Since(p.lastAt) < resync
	if fresh && rs == p.lastRS {
		return Stats{Names: len(p.last)}, nil
	}
	want := Encode(rs)
	st := Stats{Names: len(want)}
	if fresh && maps.EqualFunc(want, p.last, bytes.Equal) {
		p.lastRS = rs
		return st, nil
	}
	have, err := p.store.List(ctx, cluster.TaskNamesKey)
	if err != nil {
		return st, fmt.Errorf("publish task names: read %s: %w", cluster.TaskNamesKey, err)
	}
	// The read covers Key as a prefix: the old single key (deleted here) and
	// Prefix's keys, but also any sibling such as Key+"-v2", which is not
	// ours to delete.
	maps.DeleteFunc(have, func(k string, _ []byte) bool {
		return k != cluster.TaskNamesKey && !strings.HasPrefix(k, cluster.TaskNamesPrefix)
	})
	puts, deletes := diff(want, have)
	for len(puts)+len(deletes) > 0 {
		np := min(len(puts), cluster.MaxTxnOps)
		nd := min(len(deletes), cluster.MaxTxnOps-np)
		if err := p.store.Txn(ctx, fence, puts[:np], deletes[:nd]); err != nil {
			return st, fmt.Errorf("publish task names (%d puts, %d deletes left) under %s: %w", len(puts), len(deletes), cluster.TaskNamesPrefix, err)
		}
		st.Puts, st.Deletes, st.Txns = st.Puts+np, st.Deletes+nd, st.Txns+1
		puts, deletes = puts[np:], deletes[nd:]
	}
	p.last, p.lastRS, p.lastAt = want, rs, time.Now()
	return st, nil
}

// diff is what turns have into want: puts of keys whose value differs,
// deletes of keys want lacks, each sorted by key.
func diff(want, have map[string][]byte) (puts []cluster.KV, deletes []string) {
	for k, v := range want {
		if old, ok := have[k]; !ok || !bytes.Equal(old, v) {
			puts = append(puts, cluster.KV{Key: k, Value: v})
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			deletes = append(deletes, k)
		}
	}
	slices.SortFunc(puts, func(a, b cluster.KV) int { return strings.Compare(a.Key, b.Key) })
	slices.Sort(deletes)
	return puts, deletes
}

// opTimeout bounds one read or transaction.
const opTimeout = 10 * time.Second

// EtcdStore is the Store of a connected cluster.Store.
type EtcdStore struct {
	// Store is the connected etcd client.
	Store *cluster.Store
}

var _ Store = EtcdStore{}

// List implements Store.
func (s EtcdStore) List(ctx context.Context, prefix string) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.Store.Client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcd %s: get %s: %w", s.Store, prefix, err)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out, nil
}

// Txn implements Store.
func (s EtcdStore) Txn(ctx context.Context, fence *Fence, puts []cluster.KV, deletes []string) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ops := make([]clientv3.Op, 0, len(puts)+len(deletes))
	for _, kv := range puts {
		ops = append(ops, clientv3.OpPut(kv.Key, string(kv.Value)))
	}
	for _, k := range deletes {
		ops = append(ops, clientv3.OpDelete(k))
	}
	txn := s.Store.Client.Txn(ctx)
	if fence != nil {
		txn = txn.If(clientv3.Compare(clientv3.CreateRevision(fence.Key), "=", fence.Rev))
	}
	resp, err := txn.Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("etcd %s: txn of %d ops: %w", s.Store, len(ops), err)
	}
	if !resp.Succeeded {
		return ErrNotLeader
	}
	return nil
}
