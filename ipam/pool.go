package ipam

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Range is the pool of one address family of one network on this node: the
// node subnet (e.g. 9.0.3.0/24 or fd01:b::3:0:0:0/80) and its gateway address
// (the node bridge's address, normally the first host address), which is
// never handed out.
type Range struct {
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// Pool is what one network can allocate from on this node: one or two ranges
// (IPv4 and/or IPv6).
type Pool struct {
	Network string
	Ranges  []Range
}

// ErrExhausted is wrapped by Allocate when a range has no free address; the
// error message names the subnet and network, e.g.
// "subnet 9.0.3.0/24 of network dcos has no free address (253 in use)".
var ErrExhausted = errors.New("no free address")

// minHostBits is the fewest host bits a subnet needs: with fewer there is no
// address left besides the network address and the last address.
const minHostBits = 2

// hostRange is the part of a range that may be searched: every address of the
// subnet except the network address and the last address.
type hostRange struct {
	Range
	first, last netip.Addr
}

// validate checks pool against the attachment it is to serve.
func (p Pool) validate(id ID) error {
	if p.Network != id.Network {
		return fmt.Errorf("pool network %q does not match request network %q", p.Network, id.Network)
	}
	if len(p.Ranges) == 0 {
		return fmt.Errorf("pool of network %q has no ranges", p.Network)
	}
	for i, r := range p.Ranges {
		if err := r.validate(); err != nil {
			return fmt.Errorf("pool of network %q: range %d: %w", p.Network, i, err)
		}
		for _, o := range p.Ranges[:i] {
			if r.Subnet.Overlaps(o.Subnet) {
				return fmt.Errorf("pool of network %q: subnet %s overlaps subnet %s", p.Network, r.Subnet, o.Subnet)
			}
		}
	}
	return nil
}

// validate checks that the subnet is a masked prefix with room for hosts and
// that the gateway is one of its host addresses.
func (r Range) validate() error {
	s := r.Subnet
	switch {
	case !s.IsValid():
		return errors.New("subnet is not set or invalid")
	case s.Addr().Is4In6():
		return fmt.Errorf("subnet %s is IPv4-mapped IPv6; use the IPv4 form", s)
	case s != s.Masked():
		return fmt.Errorf("subnet %s is not masked (has host bits set), want %s", s, s.Masked())
	case s.Addr().BitLen()-s.Bits() < minHostBits:
		return fmt.Errorf("subnet %s is too small: need at least %d host bits", s, minHostBits)
	case !r.Gateway.IsValid():
		return fmt.Errorf("gateway of subnet %s is not set", s)
	case !s.Contains(r.Gateway):
		return fmt.Errorf("gateway %s is not inside subnet %s", r.Gateway, s)
	}
	h := r.hosts()
	if r.Gateway.Less(h.first) || h.last.Less(r.Gateway) {
		return fmt.Errorf("gateway %s is not a host address of subnet %s (want %s to %s)", r.Gateway, s, h.first, h.last)
	}
	return nil
}

// hosts returns the searchable host range of a validated range.
func (r Range) hosts() hostRange {
	return hostRange{Range: r, first: r.Subnet.Addr().Next(), last: lastAddr(r.Subnet).Prev()}
}

// lastAddr returns the highest address of p (all host bits set).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	first := len(b)*8 - p.Addr().BitLen() // As16 puts IPv4 in the last 4 bytes
	for i := first + p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}

// attachmentKey is the attachments bucket key of id.
func attachmentKey(id ID) []byte {
	return []byte(id.Network + "\x00" + id.ContainerID + "\x00" + id.IfName)
}

// addressKey is the addresses bucket key of addr in network.
func addressKey(network string, addr netip.Addr) []byte {
	family := byte('6')
	if addr.Is4() {
		family = '4'
	}
	k := make([]byte, 0, len(network)+2+addr.BitLen()/8)
	k = append(k, network...)
	k = append(k, 0, family)
	return append(k, addr.AsSlice()...)
}

// cursorKey is the cursors bucket key of subnet in network.
func cursorKey(network string, subnet netip.Prefix) []byte {
	return []byte(network + "\x00" + subnet.String())
}

// search is the outcome of a free-address search in one range.
type search struct {
	addr    netip.Addr // the free address, invalid when none
	inUse   int        // allocated addresses seen
	visited int        // candidates looked at, the free one included
}

// findFree returns the first free address of h after the cursor addr, wrapping
// around to the start of h. Neither the gateway nor an address with a key in
// addrs is free. It visits each allocated address of h at most once, the
// gateway at most once, and stops at the first free one.
func findFree(addrs *bolt.Bucket, network string, h hostRange, cursor netip.Addr) search {
	start := h.first
	if cursor.IsValid() && !cursor.Less(h.first) && cursor.Less(h.last) {
		start = cursor.Next()
	}
	var s search
	c := addrs.Cursor()
	if h.scan(c, network, start, h.last, &s) {
		return s
	}
	if start != h.first {
		h.scan(c, network, h.first, start.Prev(), &s)
	}
	return s
}

// scan walks the candidates from..to (inclusive) in step with the allocated
// keys, setting s.addr and returning true at the first free candidate.
func (h hostRange) scan(c *bolt.Cursor, network string, from, to netip.Addr, s *search) bool {
	k, _ := c.Seek(addressKey(network, from))
	for cand := from; ; cand = cand.Next() {
		s.visited++
		// c sits on the first key >= cand's key, so cand is taken iff equal.
		taken := k != nil && bytes.Equal(k, addressKey(network, cand))
		if taken {
			s.inUse++
			k, _ = c.Next()
		} else if cand != h.Gateway {
			s.addr = cand
			return true
		}
		if cand == to {
			return false
		}
	}
}

// exhausted is the error of a range with no free address.
func (h hostRange) exhausted(network string, s search) error {
	return fmt.Errorf("subnet %s of network %s has %w (%d in use)", h.Subnet, network, ErrExhausted, s.inUse)
}

// validateID checks that every part of id is set and free of NUL bytes, which
// separate them in keys.
func validateID(id ID) error {
	for _, f := range []struct{ name, value string }{
		{"network", id.Network},
		{"containerID", id.ContainerID},
		{"ifName", id.IfName},
	} {
		if f.value == "" {
			return fmt.Errorf("%s is empty", f.name)
		}
		if strings.ContainsRune(f.value, 0) {
			return fmt.Errorf("%s %q contains a NUL byte", f.name, f.value)
		}
	}
	return nil
}
