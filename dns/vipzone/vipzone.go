package vipzone

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/mirror"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/l4lb/daemon"
	"github.com/dcnet/dcnet/overlayd/cluster"
)

// Prefix is the etcd prefix of the named VIP records.
const Prefix = daemon.VIPNamesPrefix

// Zone is the l4lb.thisdcos.directory zone fed key by key from a mirror of
// Prefix; it implements server.Lister and mirror.Sink.
type Zone struct {
	*server.AddrZone
	log *slog.Logger
}

var (
	_ server.Lister = (*Zone)(nil)
	_ mirror.Sink   = (*Zone)(nil)
)

// New returns an empty zone; log (nil: discarded) receives skipped values.
func New(log *slog.Logger) *Zone {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Zone{AddrZone: server.NewAddrZone(server.L4LBZone), log: log}
}

// Reset implements mirror.Sink: the zone becomes exactly the names of kvs.
func (z *Zone) Reset(kvs []mirror.Change) {
	set, _ := z.decode(kvs)
	z.AddrZone.Reset(set)
}

// Update implements mirror.Sink: each changed key replaces or removes its
// name; a value that does not decode leaves its name as it was.
func (z *Zone) Update(changes []mirror.Change) {
	set, _ := z.decode(changes)
	z.AddrZone.Apply(set)
}

func (z *Zone) decode(kvs []mirror.Change) (set []server.NameAddrs, skipped int) {
	set = make([]server.NameAddrs, 0, len(kvs))
	for _, kv := range kvs {
		na, bad, err := Decode(kv.Key, kv.Value)
		if err != nil {
			z.log.Warn("vip names: skipped a malformed record", "key", kv.Key, "err", err)
			skipped++
			continue
		}
		if bad > 0 {
			z.log.Warn("vip names: skipped malformed addresses", "key", kv.Key, "skipped", bad)
			skipped += bad
		}
		set = append(set, na)
	}
	return set, skipped
}

// Decode reads one named VIP record (daemon.NameRecord) at key: its name
// is the key below Prefix (the record's own name, when set, must be the
// same), fully qualified, inside l4lb.thisdcos.directory and not its apex.
// A nil value (a deleted key) is the name without addresses. Addresses
// that do not parse are dropped and counted in bad.
func Decode(key string, value []byte) (na server.NameAddrs, bad int, err error) {
	name := dns.CanonicalName(strings.TrimPrefix(key, Prefix))
	if _, ok := dns.IsDomainName(name); !ok || !strings.HasPrefix(key, Prefix) || !dns.IsSubDomain(server.L4LBZone, name) || name == server.L4LBZone {
		return na, 0, fmt.Errorf("vip name key %q: not a name inside %s", key, server.L4LBZone)
	}
	na.Name = name
	if value == nil {
		return na, 0, nil
	}
	var rec daemon.NameRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		return na, 0, fmt.Errorf("vip name %s: %w", name, err)
	}
	if rec.Name != "" && dns.CanonicalName(rec.Name) != name {
		return na, 0, fmt.Errorf("vip name key %q holds the record of %q", key, rec.Name)
	}
	for _, a := range rec.Addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			bad++
			continue
		}
		na.Addrs = append(na.Addrs, ip.Unmap())
	}
	return na, bad, nil
}

// Watch returns a zone fed by a mirror of Prefix on s, and the mirror; run
// the mirror (mirror.Mirror.Run) to fill the zone.
func Watch(s *cluster.Store, log *slog.Logger) (*Zone, *mirror.Mirror) {
	z := New(log)
	return z, mirror.New(s.Client, Prefix, z, log)
}
