package taskzone

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/overlayd/cluster"
)

// Key is the etcd key holding the task names.
const Key = cluster.Prefix + "dns/tasknames"

// Entry is one record of the published list.
type Entry struct {
	// Name is the fully qualified, lower-case owner name.
	Name string `json:"name"`
	// Type is "A" or "AAAA".
	Type string `json:"type"`
	// Value is the address.
	Value string `json:"value"`
}

// Encode renders the A and AAAA records of rs as the published JSON list,
// sorted by name, then type (A before AAAA), then address; the same
// records always give the same bytes.
func Encode(rs *records.RecordSet) ([]byte, error) {
	entries := []Entry{}
	if rs != nil {
		for _, name := range rs.Names() {
			for _, t := range []records.Type{records.TypeA, records.TypeAAAA} {
				recs, _ := rs.Lookup(name, t)
				for _, r := range recs {
					entries = append(entries, Entry{Name: r.Name, Type: t.String(), Value: r.Addr.String()})
				}
			}
		}
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return nil, fmt.Errorf("encode task names: %w", err)
	}
	return b, nil
}

// Build turns a published list into resource records with server.TTL and
// counts the entries it skipped: names outside dcos.thisdcos.directory (or
// its apex), types other than A and AAAA, addresses that do not parse or
// do not match the type.
func Build(value []byte) (rrs []dns.RR, skipped int, err error) {
	var entries []Entry
	if err := json.Unmarshal(value, &entries); err != nil {
		return nil, 0, fmt.Errorf("decode task names: %w", err)
	}
	for _, e := range entries {
		name := dns.CanonicalName(e.Name)
		ip, perr := netip.ParseAddr(e.Value)
		_, okName := dns.IsDomainName(name)
		switch {
		case !okName || !dns.IsSubDomain(server.TaskZone, name) || name == server.TaskZone,
			perr != nil,
			e.Type == "A" && !ip.Unmap().Is4(),
			e.Type == "AAAA" && (!ip.Is6() || ip.Is4In6()),
			e.Type != "A" && e.Type != "AAAA":
			skipped++
			continue
		}
		rrs = append(rrs, server.AddrRR(name, ip))
	}
	return rrs, skipped, nil
}

// Putter writes one key.
type Putter interface {
	// Put sets key to value; it returns within ctx's deadline.
	Put(ctx context.Context, key string, value []byte) error
}

// DefaultResync is how often an unchanged list is written again.
const DefaultResync = 5 * time.Minute

// Publisher writes the task names to Key when they change.
type Publisher struct {
	put Putter
	// Resync rewrites an unchanged list after this long (0: DefaultResync).
	Resync time.Duration

	mu     sync.Mutex
	last   []byte
	lastAt time.Time
}

// NewPublisher returns a publisher writing through put.
func NewPublisher(put Putter) *Publisher { return &Publisher{put: put} }

// Publish writes rs's task names unless the same list was written less
// than Resync ago; it reports whether it wrote. A failed write is retried
// by the next Publish. Safe for concurrent use.
func (p *Publisher) Publish(ctx context.Context, rs *records.RecordSet) (bool, error) {
	b, err := Encode(rs)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	resync := p.Resync
	if resync <= 0 {
		resync = DefaultResync
	}
	if bytes.Equal(b, p.last) && time.Since(p.lastAt) < resync {
		return false, nil
	}
	if err := p.put.Put(ctx, Key, b); err != nil {
		return false, fmt.Errorf("publish task names (%d bytes) to %s: %w", len(b), Key, err)
	}
	p.last, p.lastAt = b, time.Now()
	return true, nil
}

// putTimeout bounds one write to etcd.
const putTimeout = 5 * time.Second

// StorePutter writes to etcd through a cluster.Store.
type StorePutter struct {
	// Store is the connected etcd client.
	Store *cluster.Store
}

var _ Putter = StorePutter{}

// Put implements Putter.
func (s StorePutter) Put(ctx context.Context, key string, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, putTimeout)
	defer cancel()
	if _, err := s.Store.Client.Put(ctx, key, string(value)); err != nil {
		return fmt.Errorf("etcd %s: put %s: %w", s.Store, key, err)
	}
	return nil
}

// Source is a mirror of Key (a cluster.Cache).
type Source interface {
	// List returns the entries under sub, relative to the mirrored prefix.
	List(sub string) []cluster.KV
}

var _ Source = (*cluster.Cache)(nil)

// Zone is the dcos.thisdcos.directory zone fed from a Source. It
// implements server.Lister.
type Zone struct {
	*server.StaticZone
	src Source
}

var _ server.Lister = (*Zone)(nil)

// New returns an empty zone reading src on Refresh.
func New(src Source) *Zone {
	return &Zone{StaticZone: server.NewStaticZone(server.TaskZone), src: src}
}

// Refresh rebuilds the zone from Key in the source (absent: empty) and
// returns how many entries it skipped. A value that does not decode leaves
// the zone as it was and is returned as an error. Safe to call
// concurrently with Lookup.
func (z *Zone) Refresh() (skipped int, err error) {
	var value []byte
	for _, kv := range z.src.List("") {
		if kv.Key == Key {
			value = kv.Value
		}
	}
	if value == nil {
		z.Set(nil)
		return 0, nil
	}
	rrs, skipped, err := Build(value)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", Key, err)
	}
	z.Set(rrs)
	return skipped, nil
}

// Watch returns a zone fed by a mirror of Key on s, and the mirror: every
// change the mirror applies rebuilds the zone. Run the mirror
// (cluster.Cache.Run) to fill it; until then the zone is empty.
func Watch(s *cluster.Store, log *slog.Logger) (*Zone, *cluster.Cache) {
	c := cluster.NewCache(s, Key, log)
	z := New(c)
	c.OnChange = func() {
		n, err := z.Refresh()
		if err != nil {
			log.Warn("task names: malformed list, serving the previous one", "key", Key, "err", err)
		} else if n > 0 {
			log.Warn("task names: skipped malformed records", "key", Key, "skipped", n)
		}
	}
	return z, c
}
