package taskzone

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/cluster"
)

// FakeStore is an in-memory Store, for tests of publishers.
type FakeStore struct {
	mu     sync.Mutex
	values map[string][]byte
	txns   int
	maxOps int
	// Err, when set, fails every List and Txn.
	Err  error
	term Fence // the fence that holds (SetTerm)
}

// SetTerm makes f the fence that holds: a fenced Txn with another fails
// with ErrNotLeader.
func (f *FakeStore) SetTerm(t Fence) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.term = t
}

var _ Store = (*FakeStore)(nil)

// List implements Store.
func (f *FakeStore) List(_ context.Context, prefix string) (map[string][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return nil, f.Err
	}
	out := map[string][]byte{}
	for k, v := range f.values {
		if strings.HasPrefix(k, prefix) {
			out[k] = append([]byte(nil), v...)
		}
	}
	return out, nil
}

// Txn implements Store; it fails a transaction of more than cluster.MaxTxnOps.
func (f *FakeStore) Txn(_ context.Context, fence *Fence, puts []cluster.KV, deletes []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	if fence != nil && *fence != f.term {
		return ErrNotLeader
	}
	if n := len(puts) + len(deletes); n > cluster.MaxTxnOps {
		return fmt.Errorf("fake store: txn of %d ops, limit %d", n, cluster.MaxTxnOps)
	}
	if f.values == nil {
		f.values = map[string][]byte{}
	}
	for _, kv := range puts {
		f.values[kv.Key] = append([]byte(nil), kv.Value...)
	}
	for _, k := range deletes {
		delete(f.values, k)
	}
	f.txns++
	f.maxOps = max(f.maxOps, len(puts)+len(deletes))
	return nil
}

// Set writes key directly, as another writer would.
func (f *FakeStore) Set(key string, value []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.values == nil {
		f.values = map[string][]byte{}
	}
	f.values[key] = value
}

// Value returns the value of key.
func (f *FakeStore) Value(key string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.values[key]
	return v, ok
}

// Txns returns the transactions so far and the most operations in one.
func (f *FakeStore) Txns() (txns, maxOps int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.txns, f.maxOps
}

// String prints the transactions so far and every key with its value:
//
//	txns 1
//	/dcnet/v1/dns/tasknames/web.marathon.agentip.dcos.thisdcos.directory. ["10.0.0.4"]
func (f *FakeStore) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "txns %d\n", f.txns)
	keys := make([]string, 0, len(f.values))
	for k := range f.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, f.values[k])
	}
	return b.String()
}
