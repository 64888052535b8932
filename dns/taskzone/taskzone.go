package taskzone

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
)

// Encode renders the A and AAAA records of rs as the published keys:
// Prefix + name -> JSON list of the name's addresses, IPv4 first. The same
// records always give the same bytes.
func Encode(rs *records.RecordSet) map[string][]byte {
	out := map[string][]byte{}
	if rs == nil {
		return out
	}
	for _, m := range []map[string][]netip.Addr{rs.A, rs.AAAA} {
		for name := range m {
			if _, done := out[cluster.TaskNamesPrefix+name]; done {
				continue
			}
			out[cluster.TaskNamesPrefix+name] = encodeAddrs(rs.A[name], rs.AAAA[name])
		}
	}
	return out
}

// encodeAddrs is the JSON list of v4 then v6 (each already sorted).
func encodeAddrs(v4, v6 []netip.Addr) []byte {
	b := make([]byte, 0, 2+18*(len(v4)+len(v6)))
	b = append(b, '[')
	for i, ip := range append(append([]netip.Addr(nil), v4...), v6...) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = ip.AppendTo(b)
		b = append(b, '"')
	}
	return append(b, ']')
}

// Decode reads one published key: the name (fully qualified, lower case,
// inside dcos.thisdcos.directory and not its apex) and its addresses.
// Addresses that do not parse are dropped and counted in skipped; a key
// outside Prefix or the zone, or a value that is not a JSON list of
// strings, is an error.
func Decode(key string, value []byte) (name string, addrs []netip.Addr, skipped int, err error) {
	name, err = NameOf(key)
	if err != nil {
		return "", nil, 0, err
	}
	var list []string
	if err := json.Unmarshal(value, &list); err != nil {
		return "", nil, 0, fmt.Errorf("task name %s: decode addresses: %w", name, err)
	}
	for _, s := range list {
		ip, perr := netip.ParseAddr(s)
		if perr != nil || ip.Zone() != "" {
			skipped++
			continue
		}
		addrs = append(addrs, ip.Unmap())
	}
	return name, addrs, skipped, nil
}

// NameOf is the name a key publishes, checked: fully qualified, lower
// case, inside dcos.thisdcos.directory and not its apex.
func NameOf(key string) (string, error) {
	rest, ok := strings.CutPrefix(key, cluster.TaskNamesPrefix)
	if !ok {
		return "", fmt.Errorf("task name key %q: not under %s", key, cluster.TaskNamesPrefix)
	}
	name := dns.CanonicalName(rest)
	if _, ok := dns.IsDomainName(name); !ok || !dns.IsSubDomain(server.TaskZone, name) || name == server.TaskZone {
		return "", fmt.Errorf("task name key %q: %q is not a name inside %s", key, rest, server.TaskZone)
	}
	return name, nil
}
