// Package spartan gives dcnet-dns its listen addresses: DC/OS serves DNS on
// 198.51.100.1, .2 and .3 held by a link named "spartan". Addresses that no
// link of the node holds yet are added to that link, created as a dummy
// link where the kernel has the dummy type and as a port-less bridge
// otherwise; addresses the node already has (an underlay address, say) are
// left alone. Ensure is idempotent.
package spartan

import (
	"net/netip"

	"github.com/dcnet/dcnet/dns/dnsapi"
)

// DefaultLink is DC/OS's link name.
const DefaultLink = dnsapi.SpartanLink

// Missing returns the addresses of want that local does not hold, in order,
// without duplicates. It is pure.
func Missing(want, local []netip.Addr) []netip.Addr {
	have := map[netip.Addr]bool{}
	for _, a := range local {
		have[a.Unmap()] = true
	}
	var out []netip.Addr
	for _, a := range want {
		a = a.Unmap()
		if !have[a] && !a.IsUnspecified() {
			have[a] = true
			out = append(out, a)
		}
	}
	return out
}
