package taskzone

import (
	"log/slog"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/server"
)

// Zone is the dcos.thisdcos.directory zone fed key by key from a mirror of
// Prefix; it implements server.Lister and cluster.Sink.
type Zone struct {
	*server.AddrZone
	log *slog.Logger
}

var (
	_ server.Lister = (*Zone)(nil)
	_ cluster.Sink  = (*Zone)(nil)
)

// New returns an empty zone; log (nil: discarded) receives skipped keys.
func New(log *slog.Logger) *Zone {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Zone{AddrZone: server.NewAddrZone(server.TaskZone), log: log}
}

// Reset implements cluster.Sink: the zone becomes exactly the names of kvs.
func (z *Zone) Reset(kvs []cluster.Change) {
	set, _ := z.decode(kvs)
	z.AddrZone.Reset(set)
}

// Update implements cluster.Sink: each changed key replaces or removes its
// name; a key that does not decode leaves its name as it was.
func (z *Zone) Update(changes []cluster.Change) {
	set, _ := z.decode(changes)
	z.AddrZone.Apply(set)
}

// decode turns keys into names, logging and counting what it skips: keys
// that do not decode (the pre-sharding Key among them) and addresses that
// do not parse. A deleted key (nil value) is its name without addresses.
func (z *Zone) decode(kvs []cluster.Change) (set []server.NameAddrs, skipped int) {
	set = make([]server.NameAddrs, 0, len(kvs))
	for _, kv := range kvs {
		if kv.Value == nil {
			if name, err := NameOf(kv.Key); err == nil {
				set = append(set, server.NameAddrs{Name: name})
			}
			continue
		}
		name, addrs, bad, err := Decode(kv.Key, kv.Value)
		if err != nil {
			if kv.Key != cluster.TaskNamesKey {
				z.log.Warn("task names: skipped a malformed key", "key", kv.Key, "err", err)
			}
			skipped++
			continue
		}
		if bad > 0 {
			z.log.Warn("task names: skipped malformed addresses", "key", kv.Key, "skipped", bad)
			skipped += bad
		}
		set = append(set, server.NameAddrs{Name: name, Addrs: addrs})
	}
	return set, skipped
}

// Watch returns a zone fed by a mirror of Prefix on s, and the mirror; run
// the mirror (cluster.Mirror.Run) to fill the zone.
func Watch(s *cluster.Store, log *slog.Logger) (*Zone, *cluster.Mirror) {
	z := New(log)
	return z, cluster.NewMirror(s, cluster.TaskNamesPrefix, z, log)
}
