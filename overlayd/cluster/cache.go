package cluster

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Cache mirrors every key under a prefix: a full read, then a watch from the
// read's revision. It keeps serving its last view while etcd is unreachable
// and resynchronises when the watch breaks or is compacted.
type Cache struct {
	store  *Store
	prefix string
	log    *slog.Logger
	// OnChange, when set, is called after every applied change (from Run's goroutine).
	OnChange func()

	mu     sync.RWMutex
	items  map[string][]byte
	synced bool
}

// NewCache returns a cache of prefix; call Run to fill it.
func NewCache(s *Store, prefix string, log *slog.Logger) *Cache {
	return &Cache{store: s, prefix: prefix, log: log, items: map[string][]byte{}}
}

const (
	cacheRetryMin = 200 * time.Millisecond
	cacheRetryMax = 5 * time.Second
)

// Run keeps the cache in sync until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	backoff := cacheRetryMin
	for ctx.Err() == nil {
		rev, err := c.resync(ctx)
		if err != nil {
			c.log.Warn("store cache: read failed, serving last view", "prefix", c.prefix, "err", err, "retry", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, cacheRetryMax)
			continue
		}
		backoff = cacheRetryMin
		c.watch(ctx, rev)
	}
}

func (c *Cache) resync(ctx context.Context) (int64, error) {
	cctx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := c.store.Client.Get(cctx, c.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	items := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		items[string(kv.Key)] = kv.Value
	}
	c.mu.Lock()
	c.items = items
	c.synced = true
	c.mu.Unlock()
	c.changed()
	return resp.Header.Revision, nil
}

func (c *Cache) watch(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range c.store.Client.Watch(wctx, c.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			c.log.Warn("store cache: watch broken, resyncing", "prefix", c.prefix, "err", err)
			return
		}
		c.mu.Lock()
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				delete(c.items, string(ev.Kv.Key))
			} else {
				c.items[string(ev.Kv.Key)] = ev.Kv.Value
			}
		}
		c.mu.Unlock()
		c.changed()
	}
}

func (c *Cache) changed() {
	if c.OnChange != nil {
		c.OnChange()
	}
}

// Synced reports whether the cache has been filled at least once.
func (c *Cache) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// KV is one cached key and value.
type KV struct {
	Key   string
	Value []byte
}

// List returns the cached entries under sub (relative to the cache prefix), sorted by key.
func (c *Cache) List(sub string) []KV {
	c.mu.RLock()
	out := make([]KV, 0, len(c.items))
	for k, v := range c.items {
		if strings.HasPrefix(k, c.prefix+sub) {
			out = append(out, KV{Key: k, Value: v})
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
