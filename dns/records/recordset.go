package records

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Type is a DNS record type; the values are the DNS type codes, so a server
// can pass a question's qtype straight to Lookup.
type Type uint16

// Record types a RecordSet holds.
const (
	// TypeA is an IPv4 address record.
	TypeA Type = 1
	// TypeAAAA is an IPv6 address record.
	TypeAAAA Type = 28
	// TypeSRV is a service record.
	TypeSRV Type = 33
)

// String names the type.
func (t Type) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeAAAA:
		return "AAAA"
	case TypeSRV:
		return "SRV"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// SRV is the target of a service record; priority and weight are always 0.
type SRV struct {
	// Target is the fully qualified target name, "a.marathon.mesos.".
	Target string
	// Port is the service port.
	Port uint16
}

// String renders the SRV as Mesos-DNS's /v1/axfr does, "target:port".
func (s SRV) String() string { return s.Target + ":" + strconv.Itoa(int(s.Port)) }

// Record is one answer from Lookup.
type Record struct {
	// Name is the fully qualified owner name, lower-case.
	Name string
	// Type is the record type.
	Type Type
	// Addr is the address of an A or AAAA record.
	Addr netip.Addr
	// SRV is the target of an SRV record.
	SRV SRV
}

// RecordSet holds generated records by fully qualified, lower-case name
// ("leader.mesos."). Values are sorted and free of duplicates. A RecordSet
// is not modified after Generate returns and is safe for concurrent reads.
type RecordSet struct {
	// A maps names to IPv4 addresses.
	A map[string][]netip.Addr
	// AAAA maps names to IPv6 addresses.
	AAAA map[string][]netip.Addr
	// SRV maps names to service targets.
	SRV map[string][]SRV
	// Warnings describe objects of the state that produced no or fewer
	// records (unparseable PIDs or ports, names that sanitise to nothing),
	// sorted.
	Warnings []string
}

// CanonicalName lower-cases name and adds the trailing dot.
func CanonicalName(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// Lookup returns the records of type qtype at name (any case, trailing dot
// optional), sorted, and whether name has records of any type, so a server
// can tell NODATA (exists, no records) from NXDOMAIN.
func (rs *RecordSet) Lookup(name string, qtype Type) (rrs []Record, exists bool) {
	name = CanonicalName(name)
	a, aaaa, srv := rs.A[name], rs.AAAA[name], rs.SRV[name]
	exists = len(a)+len(aaaa)+len(srv) > 0
	switch qtype {
	case TypeA, TypeAAAA:
		addrs := a
		if qtype == TypeAAAA {
			addrs = aaaa
		}
		for _, ip := range addrs {
			rrs = append(rrs, Record{Name: name, Type: qtype, Addr: ip})
		}
	case TypeSRV:
		for _, s := range srv {
			rrs = append(rrs, Record{Name: name, Type: TypeSRV, SRV: s})
		}
	}
	return rrs, exists
}

// Names returns every name with records, sorted.
func (rs *RecordSet) Names() []string {
	seen := map[string]bool{}
	for n := range rs.A {
		seen[n] = true
	}
	for n := range rs.AAAA {
		seen[n] = true
	}
	for n := range rs.SRV {
		seen[n] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Len is the number of records.
func (rs *RecordSet) Len() int {
	n := 0
	for _, v := range rs.A {
		n += len(v)
	}
	for _, v := range rs.AAAA {
		n += len(v)
	}
	for _, v := range rs.SRV {
		n += len(v)
	}
	return n
}

// Strings renders the records of one type as Mesos-DNS's /v1/axfr does:
// name -> sorted values, addresses as text and SRVs as "target:port".
func (rs *RecordSet) Strings(t Type) map[string][]string {
	out := map[string][]string{}
	switch t {
	case TypeA, TypeAAAA:
		m := rs.A
		if t == TypeAAAA {
			m = rs.AAAA
		}
		for n, addrs := range m {
			for _, ip := range addrs {
				out[n] = append(out[n], ip.String())
			}
		}
	case TypeSRV:
		for n, srvs := range rs.SRV {
			for _, s := range srvs {
				out[n] = append(out[n], s.String())
			}
		}
	}
	return out
}

// builder collects records as sets while generating.
type builder struct {
	a, aaaa  map[string]map[netip.Addr]bool
	srv      map[string]map[SRV]bool
	warnings map[string]bool
}

func newBuilder() *builder {
	return &builder{
		a:        map[string]map[netip.Addr]bool{},
		aaaa:     map[string]map[netip.Addr]bool{},
		srv:      map[string]map[SRV]bool{},
		warnings: map[string]bool{},
	}
}

// addIP adds an A or AAAA record by the address's family; it reports
// whether the record is new.
func (b *builder) addIP(name string, ip netip.Addr) bool {
	ip = ip.Unmap()
	m := b.a
	if ip.Is6() {
		m = b.aaaa
	}
	return addTo(m, name, ip.WithZone(""))
}

// addSRV adds an SRV record; it reports whether the record is new.
func (b *builder) addSRV(name, target string, port uint16) bool {
	return addTo(b.srv, name, SRV{Target: target, Port: port})
}

func (b *builder) warn(msg string) { b.warnings[msg] = true }

func addTo[K comparable](m map[string]map[K]bool, name string, v K) bool {
	set := m[name]
	if set == nil {
		set = map[K]bool{}
		m[name] = set
	}
	if set[v] {
		return false
	}
	set[v] = true
	return true
}

// recordSet freezes the builder into sorted slices.
func (b *builder) recordSet() RecordSet {
	rs := RecordSet{
		A:    freeze(b.a, netip.Addr.Compare),
		AAAA: freeze(b.aaaa, netip.Addr.Compare),
		SRV: freeze(b.srv, func(x, y SRV) int {
			return cmp.Or(strings.Compare(x.Target, y.Target), cmp.Compare(x.Port, y.Port))
		}),
	}
	for w := range b.warnings {
		rs.Warnings = append(rs.Warnings, w)
	}
	slices.Sort(rs.Warnings)
	return rs
}

func freeze[K comparable](m map[string]map[K]bool, less func(K, K) int) map[string][]K {
	out := make(map[string][]K, len(m))
	for name, set := range m {
		vs := make([]K, 0, len(set))
		for v := range set {
			vs = append(vs, v)
		}
		slices.SortFunc(vs, less)
		out[name] = vs
	}
	return out
}

// Equal reports whether rs and o hold the same records (Warnings are not
// compared). It costs one pass over the records, without reflection.
func (rs *RecordSet) Equal(o *RecordSet) bool {
	if rs == nil || o == nil {
		return rs == o
	}
	return equalMaps(rs.A, o.A) && equalMaps(rs.AAAA, o.AAAA) && equalMaps(rs.SRV, o.SRV)
}

func equalMaps[K comparable](a, b map[string][]K) bool {
	if len(a) != len(b) {
		return false
	}
	for name, va := range a {
		vb, ok := b[name]
		if !ok || !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}

// Builder collects records into a RecordSet, for sets that do not come
// from a Mesos state (a Mesos-DNS /v1/axfr answer, a renamed zone).
type Builder struct{ b *builder }

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{b: newBuilder()} }

// AddIP adds an A or AAAA record at name (kept as given) by ip's family.
func (b *Builder) AddIP(name string, ip netip.Addr) { b.b.addIP(name, ip) }

// AddSRV adds an SRV record at name.
func (b *Builder) AddSRV(name, target string, port uint16) { b.b.addSRV(name, target, port) }

// Warn records a warning.
func (b *Builder) Warn(msg string) { b.b.warn(msg) }

// RecordSet freezes what was added (the Builder may not be used after).
func (b *Builder) RecordSet() RecordSet { return b.b.recordSet() }

// Rename returns the records of rs under the zone to instead of from
// (both "mesos." or "mesos", any case): "leader.mesos." becomes
// "leader.mesos.thisdcos.directory.", SRV targets too; names are
// lower-cased, and names (or targets) outside from are left out with a
// warning. It is how dcos-dns serves Mesos-DNS's records as
// mesos.thisdcos.directory.
func Rename(rs *RecordSet, from, to string) RecordSet {
	from, to = "."+strings.Trim(strings.ToLower(from), ".")+".", "."+strings.Trim(strings.ToLower(to), ".")+"."
	b := newBuilder()
	move := func(name string) (string, bool) {
		n := strings.ToLower(name)
		if !strings.HasSuffix(n, from) || len(n) == len(from) {
			b.warn(fmt.Sprintf("rename %s: not below %s", name, strings.TrimPrefix(from, ".")))
			return "", false
		}
		return strings.TrimSuffix(n, from) + to, true
	}
	for _, m := range []map[string][]netip.Addr{rs.A, rs.AAAA} {
		for name, ips := range m {
			if n, ok := move(name); ok {
				for _, ip := range ips {
					b.addIP(n, ip)
				}
			}
		}
	}
	for name, srvs := range rs.SRV {
		n, ok := move(name)
		if !ok {
			continue
		}
		for _, s := range srvs {
			if t, ok := move(s.Target); ok {
				b.addSRV(n, t, s.Port)
			}
		}
	}
	return b.recordSet()
}
