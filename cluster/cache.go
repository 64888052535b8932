package cluster

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// Cache mirrors every key under a prefix with its raw value (a Sink of a
// Mirror): a full read, then a watch from the read's revision. It keeps
// serving its last view while etcd is unreachable and resynchronises when
// the watch breaks or is compacted.
type Cache struct {
	prefix string
	mirror *Mirror
	// OnChange, when set, is called after every applied change (from Run's goroutine).
	OnChange func()

	mu     sync.RWMutex
	items  map[string][]byte
	synced bool
}

var _ Sink = (*Cache)(nil)

// NewCache returns a cache of prefix; call Run to fill it.
func NewCache(s *Store, prefix string, log *slog.Logger) *Cache {
	c := &Cache{prefix: prefix, items: map[string][]byte{}}
	c.mirror = NewMirror(s, prefix, c, log)
	return c
}

// Run keeps the cache in sync until ctx ends.
func (c *Cache) Run(ctx context.Context) { c.mirror.Run(ctx) }

// Reset implements Sink.
func (c *Cache) Reset(kvs []Change) {
	items := make(map[string][]byte, len(kvs))
	for _, kv := range kvs {
		items[kv.Key] = kv.Value
	}
	c.mu.Lock()
	c.items, c.synced = items, true
	c.mu.Unlock()
	c.changed()
}

// Update implements Sink.
func (c *Cache) Update(changes []Change) {
	c.mu.Lock()
	for _, ch := range changes {
		if ch.Value == nil {
			delete(c.items, ch.Key)
		} else {
			c.items[ch.Key] = ch.Value
		}
	}
	c.mu.Unlock()
	c.changed()
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
