package vipzone

import (
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/l4lb/daemon"
	"github.com/dcnet/dcnet/overlayd/cluster"
)

// Prefix is the etcd prefix of the named VIP records.
const Prefix = daemon.VIPNamesPrefix

// Source is a mirror of the records under Prefix (a cluster.Cache).
type Source interface {
	// List returns the entries under sub, relative to the mirrored prefix.
	List(sub string) []cluster.KV
}

var _ Source = (*cluster.Cache)(nil)

// Zone is the l4lb.thisdcos.directory zone fed from a Source. It
// implements server.Zone.
type Zone struct {
	*server.StaticZone
	src Source
}

var _ server.Zone = (*Zone)(nil)

// New returns an empty zone reading src on Refresh.
func New(src Source) *Zone {
	return &Zone{StaticZone: server.NewStaticZone(server.L4LBZone), src: src}
}

// Refresh rebuilds the zone from the source and returns how many values
// were skipped as malformed. Safe to call concurrently with Lookup.
func (z *Zone) Refresh() (skipped int) {
	rrs, skipped := Build(z.src.List(""))
	z.Set(rrs)
	return skipped
}

// Build turns the records under Prefix into A and AAAA records with
// server.TTL, in key order, and counts the values it had to skip.
func Build(kvs []cluster.KV) (rrs []dns.RR, skipped int) {
	for _, kv := range kvs {
		var rec daemon.NameRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			skipped++
			continue
		}
		name := rec.Name
		if name == "" {
			name = strings.TrimPrefix(kv.Key, Prefix)
		}
		name = dns.CanonicalName(name)
		if _, ok := dns.IsDomainName(name); !ok || !dns.IsSubDomain(server.L4LBZone, name) || name == server.L4LBZone {
			skipped++
			continue
		}
		for _, a := range rec.Addrs {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				skipped++
				continue
			}
			rrs = append(rrs, server.AddrRR(name, ip))
		}
	}
	return rrs, skipped
}

// Watch returns a zone fed by a mirror of Prefix on s, and the mirror:
// every change the mirror applies rebuilds the zone. Run the mirror
// (cluster.Cache.Run) to fill it; until then the zone is empty.
func Watch(s *cluster.Store, log *slog.Logger) (*Zone, *cluster.Cache) {
	c := cluster.NewCache(s, Prefix, log)
	z := New(c)
	c.OnChange = func() {
		if n := z.Refresh(); n > 0 {
			log.Warn("vip names: skipped malformed records", "prefix", Prefix, "skipped", n)
		}
	}
	return z, c
}
