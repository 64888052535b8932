package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Retry bounds of a recordCache whose read fails (cluster.Cache's).
const (
	cacheRetryMin = 200 * time.Millisecond
	cacheRetryMax = 5 * time.Second
)

// recordCache mirrors the records under one prefix, like cluster.Cache,
// but keeps each record decoded (its VIP bindings) with its ModRevision
// instead of its JSON: a record is decoded once per revision, when it
// arrives, and a sync reads the decoded bindings. The initial read (and a
// resync after a broken watch) is paged, and a record whose ModRevision
// did not change keeps its bindings. With 30,000 endpoint records, decoding
// every record on every sync and holding both the JSON and one big read
// answer were most of the daemon's memory.
type recordCache struct {
	store  *cluster.Store
	prefix string
	what   string // for logs: "endpoint", "mesos backend"
	decode func(key string, value []byte) ([]vip.Binding, error)
	log    *slog.Logger
	// OnChange, when set, is called after every applied change (from
	// Run's goroutine).
	OnChange func()

	mu     sync.RWMutex
	byKey  map[string]record
	synced bool
}

// record is one decoded record at one revision.
type record struct {
	rev      int64
	bindings []vip.Binding
}

// recordPage bounds one read of a resync (a variable for tests).
var recordPage int64 = 1000

func newRecordCache(s *cluster.Store, prefix, what string, decode func(key string, value []byte) ([]vip.Binding, error), log *slog.Logger) *recordCache {
	return &recordCache{store: s, prefix: prefix, what: what, decode: decode, log: log, byKey: map[string]record{}}
}

// Run keeps the cache in sync until ctx ends; while etcd is unreachable
// it keeps its last view.
func (c *recordCache) Run(ctx context.Context) {
	backoff := cacheRetryMin
	for ctx.Err() == nil {
		rev, err := c.resync(ctx)
		if err != nil {
			c.log.Warn("store cache: read failed, serving last view", "prefix", c.prefix, "err", err, "retry", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(backoff*2, cacheRetryMax)
			continue
		}
		backoff = cacheRetryMin
		c.watch(ctx, rev)
	}
}

// resync reads the prefix in pages at one revision; records whose
// revision is unchanged keep their decoded bindings.
func (c *recordCache) resync(ctx context.Context) (int64, error) {
	c.mu.RLock()
	old := c.byKey
	c.mu.RUnlock()
	items := make(map[string]record, len(old))
	end := clientv3.GetPrefixRangeEnd(c.prefix)
	from, rev := c.prefix, int64(0)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(recordPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		resp, err := c.store.Client.Get(cctx, from, opts...)
		cancel()
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			key := string(kv.Key)
			if r, ok := old[key]; ok && r.rev == kv.ModRevision {
				items[key] = r
				continue
			}
			items[key] = c.decoded(key, kv.ModRevision, kv.Value)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	c.mu.Lock()
	c.byKey, c.synced = items, true
	c.mu.Unlock()
	c.changed()
	return rev, nil
}

func (c *recordCache) watch(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range c.store.Client.Watch(wctx, c.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			c.log.Warn("store cache: watch broken, resyncing", "prefix", c.prefix, "err", err)
			return
		}
		for _, ev := range wr.Events {
			key := string(ev.Kv.Key)
			if ev.Type == clientv3.EventTypeDelete {
				c.mu.Lock()
				delete(c.byKey, key)
				c.mu.Unlock()
				continue
			}
			r := c.decoded(key, ev.Kv.ModRevision, ev.Kv.Value)
			c.mu.Lock()
			c.byKey[key] = r
			c.mu.Unlock()
		}
		c.changed()
	}
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
		var ep api.Endpoint
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

// decodeMesosRecord returns the bindings of one MesosBackendsPrefix
// record; a backend's node is the node that published it.
func decodeMesosRecord(key string, value []byte) ([]vip.Binding, error) {
	node, _, ok := strings.Cut(strings.TrimPrefix(key, MesosBackendsPrefix), "/")
	if !ok {
		return nil, fmt.Errorf("key %s: want %s<node>/<task>", key, MesosBackendsPrefix)
	}
	var r MesosRecord
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, err
	}
	out := make([]vip.Binding, 0, len(r.Backends))
	for _, b := range r.Backends {
		out = append(out, vip.Binding{
			VIP: vip.VIP{Name: b.Name, Framework: b.Framework, IP: b.VIP, Port: b.VIPPort, Protocol: b.Protocol},
			Backend: vip.Backend{IP: b.IP, Port: b.Port, Node: node, NodeIP: b.NodeIP, Task: r.Task,
				Healthy: b.Healthy, Draining: b.Draining},
		})
	}
	return out, nil
}
