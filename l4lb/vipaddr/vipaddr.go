package vipaddr

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// Zone is the DNS zone of named VIPs: Term strips it from a DNS name.
const Zone = "l4lb.thisdcos.directory"

// Range is a range of named VIP addresses of one family, Min to Max
// included, as dcos-net's min_named_ip and max_named_ip.
type Range struct {
	Min, Max netip.Addr
}

// The default ranges, dcos-net's: 11.0.0.0-11.255.255.254 and
// fd01:c::-fd01:c::ffff:ffff:ffff:ffff.
var (
	Default4 = Range{Min: netip.MustParseAddr("11.0.0.0"), Max: netip.MustParseAddr("11.255.255.254")}
	Default6 = Range{Min: netip.MustParseAddr("fd01:c::"), Max: netip.MustParseAddr("fd01:c::ffff:ffff:ffff:ffff")}
)

// Validate checks that r is a non-empty range of one family.
func (r Range) Validate() error {
	switch {
	case !r.Min.IsValid() || !r.Max.IsValid():
		return errors.New("named vip range: min and max are required")
	case r.Min.Is4() != r.Max.Is4() || r.Min.Zone() != "" || r.Max.Zone() != "":
		return fmt.Errorf("named vip range %s-%s: min and max must be addresses of one family without a zone", r.Min, r.Max)
	case r.Max.Compare(r.Min) <= 0:
		return fmt.Errorf("named vip range %s-%s: max must be above min", r.Min, r.Max)
	}
	return nil
}

// Contains reports whether a is in r.
func (r Range) Contains(a netip.Addr) bool {
	a = a.Unmap()
	return a.Is4() == r.Min.Is4() && a.Compare(r.Min) >= 0 && a.Compare(r.Max) <= 0
}

// String renders r as min-max.
func (r Range) String() string { return r.Min.String() + "-" + r.Max.String() }

// Qtty is dcos-net's Qtty: Max - Min, the modulus of the hash and the
// number of probes.
func (r Range) Qtty() *big.Int {
	return new(big.Int).Sub(addrInt(r.Max), addrInt(r.Min))
}

// Start is the first address dcos-net tries for the named VIP whose hash
// term is term (see Term): Min + phash2(term, Qtty) for IPv4, Min +
// sha1(term) rem Qtty for IPv6.
func (r Range) Start(term string) netip.Addr {
	q := r.Qtty()
	var off *big.Int
	if r.Min.Is4() {
		off = big.NewInt(int64(Phash2([]byte(term), uint32(q.Uint64()))))
	} else {
		sum := sha1.Sum([]byte(term))
		off = new(big.Int).Rem(new(big.Int).SetBytes(sum[:]), q)
	}
	return intAddr(new(big.Int).Add(addrInt(r.Min), off), r.Min.Is4())
}

// Next is the address probed after a in r: a + 1, and Min after Max (and
// for an address outside r).
func (r Range) Next(a netip.Addr) netip.Addr {
	if !r.Contains(a) || a.Unmap() == r.Max {
		return r.Min
	}
	return a.Unmap().Next()
}

// Term is the hash term of a named VIP from its DNS name: the name without
// the zone, so "foo.bar.l4lb.thisdcos.directory" hashes as "foo.bar",
// dcos-net's to_name([Label, FwName]).
func Term(dnsName string) string {
	return strings.TrimSuffix(strings.TrimSuffix(dnsName, "."), "."+Zone)
}

func addrInt(a netip.Addr) *big.Int {
	b := a.Unmap().AsSlice()
	return new(big.Int).SetBytes(b)
}

func intAddr(n *big.Int, is4 bool) netip.Addr {
	size := 16
	if is4 {
		size = 4
	}
	buf := make([]byte, size)
	n.FillBytes(buf)
	a, _ := netip.AddrFromSlice(buf)
	return a
}
