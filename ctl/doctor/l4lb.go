package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/vipzone"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// L4LBTable is the name of dcnet-l4lb's tables, `ip dcnet-l4lb` and
// `ip6 dcnet-l4lb` (see package l4lb/dataplane for their layout).
const L4LBTable = "dcnet-l4lb"

// NFTFamilies are the families of dcnet-l4lb's tables.
var NFTFamilies = []string{"ip", "ip6"}

// maxSlots is dcnet-l4lb's bound of the backend slots of one VIP.
const maxSlots = 1024

// WantTable is the content of one family's table that dcnet-l4lb
// programs for vips (its /v1/vips): per VIP the verdict (jump lb-K with
// K slots, or jump novip), per slot its backend, and the K of every lb-K
// chain. Slots are the backends that are active (their node is alive, or
// every backend's node is gone: fail open) and not draining, one per
// address and port, numbered in address order, as dcnet-l4lb numbers
// them. why says, for a VIP dcnet-l4lb lists but cannot program, why not.
func WantTable(family string, vips []l4lbapi.VIPInfo) (want NFTTable, chains []int, why map[VIPKey]string) {
	want = NFTTable{Family: family, Present: true, VIPs: map[VIPKey]string{}, Backends: map[SlotKey]netip.AddrPort{}}
	why = map[VIPKey]string{}
	for _, v := range vips {
		a, err := netip.ParseAddr(v.Address)
		if err != nil || (a.Unmap().Is4() != (family == "ip")) {
			continue
		}
		k := VIPKey{Addr: a.Unmap(), Proto: v.Protocol, Port: v.Port}
		if _, dup := want.VIPs[k]; dup {
			continue
		}
		var slots []netip.AddrPort
		for _, b := range v.Backends {
			ip, err := netip.ParseAddr(b.IP)
			if err != nil || !b.Active || b.Draining || b.Port == 0 {
				continue
			}
			if ip.Unmap().Is4() != k.Addr.Is4() {
				why[k] = "backend " + b.IP + " is not of the VIP's family"
			}
			slots = append(slots, netip.AddrPortFrom(ip.Unmap(), b.Port))
		}
		slices.SortFunc(slots, func(x, y netip.AddrPort) int { return x.Compare(y) })
		slots = slices.Compact(slots)
		switch {
		case k.Proto != "tcp" && k.Proto != "udp":
			why[k] = "protocol " + k.Proto + " is neither tcp nor udp"
		case len(slots) > maxSlots:
			why[k] = fmt.Sprintf("%d backend slots, more than %d", len(slots), maxSlots)
		}
		if len(slots) == 0 {
			want.VIPs[k] = "jump novip"
			continue
		}
		want.VIPs[k] = "jump " + lbChain(len(slots))
		if !slices.Contains(chains, len(slots)) {
			chains = append(chains, len(slots))
		}
		for i, b := range slots {
			want.Backends[SlotKey{k, uint32(i)}] = b
		}
	}
	slices.Sort(chains)
	return want, chains, why
}

func lbChain(k int) string { return "lb-" + strconv.Itoa(k) }

// baseChains are the fixed chains of a table: type, hook and the words
// one of their rules must hold (see ruleWords).
var baseChains = []struct {
	name, typ, hook string
	words           []string
}{
	{"prerouting", "nat", "prerouting", []string{"vmap @vips"}},
	{"output", "nat", "output", []string{"vmap @vips"}},
	{"hairpin", "filter", "prerouting", []string{"fib"}},
	{"postrouting", "nat", "postrouting", []string{"masquerade"}},
	{"novip", "", "", []string{"reject"}},
}

// CheckTable compares one family's wanted table (WantTable) with the
// kernel's: the table, its maps and chains (the lb-K chains of the VIPs'
// slot counts and no others) and every element of the vips and backends
// maps. No table is right for a family without VIPs: dcnet-l4lb makes
// it with the family's first VIP.
func CheckTable(family string, vips []l4lbapi.VIPInfo, have NFTTable) Check {
	want, chains, why := WantTable(family, vips)
	name := "nft table " + family + " " + L4LBTable
	show := "nft list table " + family + " " + L4LBTable
	compared := len(want.VIPs) + len(want.Backends)
	if !have.Present && len(want.VIPs) == 0 {
		return newCheck(L4LB, name, 0, nil) // dcnet-l4lb makes a family's table with its first VIP
	}
	if !have.Present {
		return newCheck(L4LB, name, compared, []Finding{{Kind: Missing, Object: "table " + family + " " + L4LBTable,
			Detail: "dcnet-l4lb rebuilds it at its next periodic sync", Command: show}})
	}
	var fs []Finding
	for _, m := range []string{"vips", "backends"} {
		if !have.Maps[m] {
			fs = append(fs, Finding{Kind: Missing, Object: "map " + m, Command: show})
		}
	}
	for _, b := range baseChains {
		fs = append(fs, chainFindings(have, b.name, b.typ, b.hook, b.words, show)...)
	}
	for _, k := range chains {
		fs = append(fs, chainFindings(have, lbChain(k), "", "", []string{"dnat", fmt.Sprintf("numgen inc mod %d", k), "map @backends"}, show)...)
	}
	for c := range have.Chains {
		if n, ok := strings.CutPrefix(c, "lb-"); ok {
			if k, err := strconv.Atoi(n); err != nil || !slices.Contains(chains, k) {
				fs = append(fs, Finding{Kind: Extra, Object: "chain " + c, Detail: "no VIP has that many backend slots", Command: show})
			}
		}
	}
	for _, b := range have.Bad {
		fs = append(fs, Finding{Kind: Wrong, Object: "element " + b, Detail: "not an element dcnet-l4lb writes", Command: show})
	}
	mapCmd := func(m string) string { return "nft list map " + family + " " + L4LBTable + " " + m }
	fs = append(fs, compareElems(want.VIPs, have.VIPs, VIPKey.String, func(v string) string { return v },
		func(k VIPKey) string {
			if w := why[k]; w != "" {
				return "dcnet-l4lb cannot program it: " + w
			}
			return ""
		}, mapCmd("vips"))...)
	fs = append(fs, compareElems(want.Backends, have.Backends, func(k SlotKey) string {
		return fmt.Sprintf("%s . %s . %d . 0x%08x", k.Addr, k.Proto, k.Port, k.Slot)
	}, func(b netip.AddrPort) string { return fmt.Sprintf("%s . %d", b.Addr(), b.Port()) },
		func(SlotKey) string { return "" }, mapCmd("backends"))...)
	return newCheck(L4LB, name, compared, fs)
}

// chainFindings checks that chain name exists with type and hook (base
// chains) and that one of its rules holds every word of words.
func chainFindings(t NFTTable, name, typ, hook string, words []string, cmd string) []Finding {
	c, ok := t.Chains[name]
	if !ok {
		return []Finding{{Kind: Missing, Object: "chain " + name, Command: cmd}}
	}
	if c.Type != typ || c.Hook != hook {
		return []Finding{{Kind: Wrong, Object: "chain " + name, Want: chainHead(typ, hook), Have: chainHead(c.Type, c.Hook), Command: cmd}}
	}
	holds := func(r string) bool {
		for _, w := range words {
			if !strings.Contains(" "+r+" ", " "+w+" ") {
				return false
			}
		}
		return true
	}
	if !slices.ContainsFunc(c.Rules, holds) {
		return []Finding{{Kind: Wrong, Object: "chain " + name, Want: "a rule with " + strings.Join(words, ", "), Have: strings.Join(c.Rules, "; "),
			Detail: "dcnet-l4lb rebuilds a damaged table at its next periodic sync", Command: cmd}}
	}
	return nil
}

func chainHead(typ, hook string) string {
	if typ == "" {
		return "a regular chain"
	}
	return "type " + typ + " hook " + hook
}

// compareElems reports the elements of want missing or different in have,
// and those of have not in want, sorted; elements render as nft prints
// them, "key : value".
func compareElems[K comparable, V comparable](want, have map[K]V, key func(K) string, val func(V) string, why func(K) string, cmd string) []Finding {
	var fs []Finding
	for k, w := range want {
		h, ok := have[k]
		switch {
		case !ok:
			fs = append(fs, Finding{Kind: Missing, Object: key(k) + " : " + val(w), Detail: why(k), Command: cmd})
		case h != w:
			fs = append(fs, Finding{Kind: Wrong, Object: key(k), Want: key(k) + " : " + val(w), Have: key(k) + " : " + val(h), Command: cmd})
		}
	}
	for k, h := range have {
		if _, ok := want[k]; !ok {
			fs = append(fs, Finding{Kind: Extra, Object: key(k) + " : " + val(h), Detail: "no VIP of dcnet-l4lb's", Command: cmd})
		}
	}
	slices.SortFunc(fs, func(a, b Finding) int { return strings.Compare(a.Object, b.Object) })
	return fs
}

// namedVIPs returns the addresses dcnet-l4lb programs per named VIP,
// keyed by the fully qualified name, sorted.
func namedVIPs(vips []l4lbapi.VIPInfo) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, v := range vips {
		a, err := netip.ParseAddr(v.Address)
		if v.Name == "" || err != nil {
			continue
		}
		n := dns.CanonicalName(v.Name)
		if !slices.Contains(out[n], a.Unmap()) {
			out[n] = append(out[n], a.Unmap())
		}
	}
	for _, as := range out {
		slices.SortFunc(as, netip.Addr.Compare)
	}
	return out
}

// decodeNames reads the named VIP records (keys under
// cluster.VIPNamesPrefix) as dcnet-dns reads them: name -> sorted
// addresses. Records that do not decode are returned as findings.
func decodeNames(recs []KV, etcdctl Etcdctl) (map[string][]netip.Addr, map[string]string, []Finding) {
	names, keys := map[string][]netip.Addr{}, map[string]string{}
	var bad []Finding
	for _, kv := range recs {
		na, _, err := vipzone.Decode(kv.Key, kv.Value)
		if err != nil {
			bad = append(bad, Finding{Kind: Wrong, Object: kv.Key, Want: "a named VIP record", Have: err.Error(), Command: etcdctl.get(kv.Key)})
			continue
		}
		as := slices.Clone(na.Addrs)
		slices.SortFunc(as, netip.Addr.Compare)
		names[na.Name], keys[na.Name] = slices.Compact(as), kv.Key
	}
	return names, keys, bad
}

// CheckVIPNames compares the named VIPs dcnet-l4lb programs with their
// name records in the store (recs): every name it programs has a record
// with exactly its addresses (dcnet-l4lb writes it after programming). A
// record of a name this node does not program is a Note: its backends are
// gone and it is released after --vip-release-grace, or this node has not
// synced it yet; dcnet-dns here does not answer it meanwhile.
func CheckVIPNames(vips []l4lbapi.VIPInfo, recs []KV, etcdctl Etcdctl) Check {
	programmed := namedVIPs(vips)
	stored, keys, fs := decodeNames(recs, etcdctl)
	for _, n := range sortedKeys(programmed) {
		want := programmed[n]
		key := cluster.VIPNamesPrefix + strings.TrimSuffix(n, ".")
		have, ok := stored[n]
		switch {
		case !ok:
			fs = append(fs, Finding{Kind: Missing, Object: key, Want: addrsString(want),
				Detail: "dcnet-l4lb writes it once it programmed the VIP; dcnet-dns answers the name from it", Command: etcdctl.get(key)})
		case !slices.Equal(want, have):
			fs = append(fs, Finding{Kind: Wrong, Object: keys[n], Want: addrsString(want), Have: addrsString(have), Command: etcdctl.get(keys[n])})
		}
	}
	for _, n := range sortedKeys(stored) {
		if _, ok := programmed[n]; !ok {
			fs = append(fs, Finding{Kind: Note, Object: keys[n], Have: addrsString(stored[n]),
				Detail:  "no VIP of this name on this node (its backends are gone: released after --vip-release-grace; or not synced yet); dcnet-dns here holds the name back",
				Command: etcdctl.get(keys[n])})
		}
	}
	return newCheck(L4LB, "vip names", len(programmed), fs)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func addrsString(as []netip.Addr) string {
	if len(as) == 0 {
		return "no addresses"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// CheckRefused reports every IP VIP dcnet-l4lb refuses because a named
// VIP holds its address: the IP VIP's backends get no traffic until its
// label names another address (or the named VIP is released).
func CheckRefused(refused []l4lbapi.Refused) Check {
	var fs []Finding
	for _, r := range refused {
		fs = append(fs, Finding{Kind: Wrong, Object: r.Protocol + " " + r.VIP,
			Want: "an address no named VIP holds", Have: "held by " + r.HeldBy,
			Detail:  "the IP VIP is not programmed (since " + r.Since + "); the named VIP keeps its traffic and name: give the IP VIP another address",
			Command: "dcnetctl vips"})
	}
	return newCheck(L4LB, "vip addresses", len(refused), fs)
}
