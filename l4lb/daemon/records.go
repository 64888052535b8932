package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/vip"
)

// recordCache mirrors the records under one prefix (a cluster.Sink, like
// cluster.Cache) but keeps each record decoded (its VIP bindings) with its
// ModRevision instead of its JSON: a record is decoded once per revision,
// when it arrives, and a sync reads the decoded bindings. The full read
// (and a resync after a broken watch) is paged, and a record whose
// ModRevision did not change keeps its bindings. With 30,000 endpoint
// records, decoding every record on every sync and holding both the JSON
// and one big read answer were most of the daemon's memory.
type recordCache struct {
	mirror *cluster.Mirror
	what   string // for logs: "endpoint", "mesos backend"
	decode func(key string, value []byte) ([]vip.Binding, error)
	log    *slog.Logger
	// OnChange, when set, is called after every applied change (from
	// Run's goroutine).
	OnChange func()

	mu     sync.RWMutex
	byKey  map[string]record
	synced bool
	rev    int64 // see Revision
}

var _ cluster.RevisionSink = (*recordCache)(nil)

// record is one decoded record at one revision.
type record struct {
	rev      int64
	bindings []vip.Binding
}

// recordPage bounds one read of a resync (a variable for tests).
var recordPage int64 = 1000

func newRecordCache(s *cluster.Store, prefix, what string, decode func(key string, value []byte) ([]vip.Binding, error), log *slog.Logger) *recordCache {
	c := &recordCache{what: what, decode: decode, log: log, byKey: map[string]record{}}
	c.mirror = cluster.NewMirror(s, prefix, c, log)
	c.mirror.PageSize = recordPage
	return c
}

// Revision is the store revision the cache reflects: every change under
// its prefix up to it is in the bindings (0 before the first read).
func (c *recordCache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// ResetAt implements cluster.RevisionSink.
func (c *recordCache) ResetAt(kvs []cluster.Change, rev int64) { c.reset(kvs, rev) }

// UpdateAt implements cluster.RevisionSink.
func (c *recordCache) UpdateAt(changes []cluster.Change, rev int64) { c.update(changes, rev) }

// Run keeps the cache in sync until ctx ends; while etcd is unreachable
// it keeps its last view.
func (c *recordCache) Run(ctx context.Context) { c.mirror.Run(ctx) }

// Reset implements cluster.Sink: records whose revision is unchanged keep
// their decoded bindings.
func (c *recordCache) Reset(kvs []cluster.Change) { c.reset(kvs, 0) }

func (c *recordCache) reset(kvs []cluster.Change, rev int64) {
	c.mu.RLock()
	old := c.byKey
	c.mu.RUnlock()
	items := make(map[string]record, len(kvs))
	for _, kv := range kvs {
		if r, ok := old[kv.Key]; ok && r.rev == kv.Rev {
			items[kv.Key] = r
			continue
		}
		items[kv.Key] = c.decoded(kv.Key, kv.Rev, kv.Value)
	}
	c.mu.Lock()
	c.byKey, c.synced = items, true
	c.rev = max(c.rev, rev)
	c.mu.Unlock()
	c.changed()
}

// Update implements cluster.Sink.
func (c *recordCache) Update(changes []cluster.Change) { c.update(changes, 0) }

func (c *recordCache) update(changes []cluster.Change, rev int64) {
	for _, ch := range changes {
		if ch.Value == nil {
			c.mu.Lock()
			delete(c.byKey, ch.Key)
			c.mu.Unlock()
			continue
		}
		r := c.decoded(ch.Key, ch.Rev, ch.Value)
		c.mu.Lock()
		c.byKey[ch.Key] = r
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.rev = max(c.rev, rev)
	c.mu.Unlock()
	c.changed()
}

// decoded decodes one record; one that fails has no bindings and is
// logged once per revision.
func (c *recordCache) decoded(key string, rev int64, value []byte) record {
	bs, err := c.decode(key, value)
	if err != nil {
		c.log.Warn(c.what+" record ignored", "key", key, "err", err)
	}
	return record{rev: rev, bindings: bs}
}

func (c *recordCache) changed() {
	if c.OnChange != nil {
		c.OnChange()
	}
}

// Synced reports whether the cache has been filled at least once.
func (c *recordCache) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// Bindings appends every record's bindings to dst, one slice per record
// in key order, and returns it. The slices are shared: read them only.
func (c *recordCache) Bindings(dst [][]vip.Binding) [][]vip.Binding {
	c.mu.RLock()
	keys := make([]string, 0, len(c.byKey))
	for k := range c.byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = append(dst, c.byKey[k].bindings)
	}
	c.mu.RUnlock()
	return dst
}

// decodeEndpointRecord returns a decoder of endpoint records into their VIP
// bindings. Label
// errors are not returned (the record's other labels count): they are
// logged at debug level, once per record value.
func decodeEndpointRecord(log *slog.Logger) func(key string, value []byte) ([]vip.Binding, error) {
	return func(key string, value []byte) ([]vip.Binding, error) {
		var ep cluster.Endpoint
		if err := json.Unmarshal(value, &ep); err != nil {
			return nil, err
		}
		bs, errs := vip.FromEndpoint(ep)
		for _, err := range errs {
			log.Debug("vip label ignored", "key", key, "err", err)
		}
		return bs, nil
	}
}

// decodeMesosRecord returns the bindings of one cluster.MesosBackendsPrefix
// record; a backend's node is the node that published it.
func decodeMesosRecord(key string, value []byte) ([]vip.Binding, error) {
	node, _, ok := strings.Cut(strings.TrimPrefix(key, cluster.MesosBackendsPrefix), "/")
	if !ok {
		return nil, fmt.Errorf("key %s: want %s<node>/<task>", key, cluster.MesosBackendsPrefix)
	}
	var r cluster.MesosBackends
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, err
	}
	out := make([]vip.Binding, 0, len(r.Backends))
	for _, b := range r.Backends {
		out = append(out, vip.Binding{
			VIP: vip.VIP{Name: b.Name, Framework: b.Framework, IP: b.VIP, Port: b.VIPPort, Protocol: b.Protocol},
			Backend: vip.Backend{IP: b.IP, Port: b.Port, Node: node, NodeIP: b.NodeIP, Task: r.Task,
				Healthy: b.Healthy, Draining: b.Draining, Local: b.Local},
		})
	}
	return out, nil
}
