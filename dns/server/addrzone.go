package server

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// NameAddrs is one name of an AddrZone and its addresses.
type NameAddrs struct {
	// Name is the fully qualified, lower-case owner name.
	Name string
	// Addrs are its addresses, IPv4 (A) and IPv6 (AAAA); none removes the
	// name.
	Addrs []netip.Addr
}

// AddrZone is a zone of A and AAAA records changed one name at a time, as
// the etcd mirrors of the task names and VIP names deliver them. Records
// are stored packed (a name and its addresses as bytes, about 100 bytes
// per name) and turned into resource records at lookup.
type AddrZone struct {
	name  string
	mu    sync.RWMutex
	names map[string]packedAddrs
	gen   atomic.Uint64
}

// packedAddrs are a name's addresses: IPv4 as 4 bytes each, IPv6 as 16.
type packedAddrs struct{ v4, v6 string }

var _ Lister = (*AddrZone)(nil)

// NewAddrZone returns an empty zone named name.
func NewAddrZone(name string) *AddrZone {
	return &AddrZone{name: dns.CanonicalName(name), names: map[string]packedAddrs{}}
}

// Inline implements InlineZone: addresses only, from memory.
func (z *AddrZone) Inline() bool { return true }

// Generation implements InlineZone.
func (z *AddrZone) Generation() uint64 { return z.gen.Load() }

// Name is the zone apex.
func (z *AddrZone) Name() string { return z.name }

// Len is the number of names.
func (z *AddrZone) Len() int {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return len(z.names)
}

// Reset replaces every name by set. Safe to call concurrently with Lookup.
func (z *AddrZone) Reset(set []NameAddrs) {
	m := make(map[string]packedAddrs, len(set))
	for _, na := range set {
		if p, ok := pack(na.Addrs); ok {
			m[na.Name] = p
		}
	}
	z.mu.Lock()
	z.names = m
	z.gen.Add(1)
	z.mu.Unlock()
}

// Apply sets each name's addresses, in order; a name without addresses is
// removed. Safe to call concurrently with Lookup.
func (z *AddrZone) Apply(changes []NameAddrs) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, na := range changes {
		if p, ok := pack(na.Addrs); ok {
			z.names[na.Name] = p
		} else {
			delete(z.names, na.Name)
		}
	}
	z.gen.Add(1)
}

// pack packs addrs, sorted and without duplicates; ok is false for none.
func pack(addrs []netip.Addr) (packedAddrs, bool) {
	var v4, v6 []byte
	sorted := slices.Clone(addrs)
	slices.SortFunc(sorted, netip.Addr.Compare)
	for i, ip := range sorted {
		if i > 0 && ip == sorted[i-1] {
			continue
		}
		if ip = ip.Unmap(); ip.Is4() {
			b := ip.As4()
			v4 = append(v4, b[:]...)
		} else if ip.Is6() {
			b := ip.As16()
			v6 = append(v6, b[:]...)
		}
	}
	return packedAddrs{v4: string(v4), v6: string(v6)}, len(v4)+len(v6) > 0
}

// Lookup implements Zone.
func (z *AddrZone) Lookup(name string, qtype uint16) ([]dns.RR, bool) {
	z.mu.RLock()
	p, ok := z.names[name]
	z.mu.RUnlock()
	if !ok {
		return nil, false
	}
	var out []dns.RR
	if qtype == dns.TypeA || qtype == dns.TypeANY {
		for i := 0; i+4 <= len(p.v4); i += 4 {
			out = append(out, &dns.A{Hdr: header(name, dns.TypeA), A: []byte(p.v4[i : i+4])})
		}
	}
	if qtype == dns.TypeAAAA || qtype == dns.TypeANY {
		for i := 0; i+16 <= len(p.v6); i += 16 {
			out = append(out, &dns.AAAA{Hdr: header(name, dns.TypeAAAA), AAAA: []byte(p.v6[i : i+16])})
		}
	}
	return out, true
}

// Records implements Lister.
func (z *AddrZone) Records() []dns.RR {
	z.mu.RLock()
	names := make([]string, 0, len(z.names))
	for n := range z.names {
		names = append(names, n)
	}
	z.mu.RUnlock()
	slices.Sort(names)
	var out []dns.RR
	for _, n := range names {
		rrs, _ := z.Lookup(n, dns.TypeANY)
		out = append(out, rrs...)
	}
	return out
}

// Addrs returns name's addresses, IPv4 first, each family sorted; none
// when the zone does not hold name.
func (z *AddrZone) Addrs(name string) []netip.Addr {
	z.mu.RLock()
	p := z.names[name]
	z.mu.RUnlock()
	var out []netip.Addr
	for i := 0; i+4 <= len(p.v4); i += 4 {
		out = append(out, netip.AddrFrom4([4]byte([]byte(p.v4[i:i+4]))))
	}
	for i := 0; i+16 <= len(p.v6); i += 16 {
		out = append(out, netip.AddrFrom16([16]byte([]byte(p.v6[i:i+16]))))
	}
	return out
}
