package portmap

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// TableName is the name of both tables, `ip dcnet-portmap` and
// `ip6 dcnet-portmap`.
const TableName = "dcnet-portmap"

// Names of the fixed chains and maps of each table.
const (
	chainPrerouting = "prerouting"
	chainOutput     = "output"
	chainHostports  = "hostports"
	chainHairpin    = "hairpin"
	chainPostrout   = "postrouting"
	mapTargets      = "targets" // l4proto . port : addr . port; each config chain has a set of its ports
	setNoVIP        = "vipnets" // the l4lb VIP ranges, never translated
)

// reservedChains are the fixed chains' names (a config's "chain" cannot
// take one).
var reservedChains = []string{chainPrerouting, chainOutput, chainHostports, chainHairpin, chainPostrout, mapTargets}

// HairpinMark is the packet mark bit that asks for masquerade at
// postrouting: the same bit, with the same meaning, as dcnet-l4lb's
// (l4lb/dataplane.HairpinMark), so either table's postrouting chain
// serves the other's connections.
const HairpinMark uint32 = 0x4000

// Family is an address family: one table each.
type Family int

// The two families.
const (
	IPv4 Family = iota
	IPv6
)

// Families lists both, in table order.
var Families = []Family{IPv4, IPv6}

func (f Family) String() string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

// familyOf is the family of an address.
func familyOf(a netip.Addr) Family {
	if a.Is4() || a.Is4In6() {
		return IPv4
	}
	return IPv6
}

// VIPRanges are dcnet-l4lb's named-VIP ranges per family (DESIGN.md):
// traffic to them is never translated here.
var VIPRanges = [2]netip.Prefix{
	IPv4: netip.MustParsePrefix("11.0.0.0/8"),
	IPv6: netip.MustParsePrefix("fd01:c::/64"),
}

// Element is one host port of one family as the kernel holds it: an
// element of its config chain's set and one of the targets map (where
// to), both tagged with the record's key.
type Element struct {
	Family Family
	Proto  uint8
	Port   uint16
	Chain  string
	Target netip.AddrPort
	Tag    string
}

// Key is what two elements of one family cannot share.
func (e Element) Key() string { return fmt.Sprintf("%s %d %d", e.Family, e.Proto, e.Port) }

// String renders the element as the fake prints it.
func (e Element) String() string {
	return fmt.Sprintf("%s %s . %d : jump %s, dnat to %s comment %q", e.Family, protoName(e.Proto), e.Port, e.Chain, e.Target, Comment(e.Tag))
}

// Comment is the kernel comment of a record's elements: the container ID
// first, as Mesos' port mapper tagged its rules ("container_id: <id>").
func Comment(tag string) string {
	id, ifName, _ := strings.Cut(tag, "/")
	return "container_id: " + id + " ifname: " + ifName
}

// TagOf parses a comment written by Comment back into the record key.
func TagOf(comment string) (string, bool) {
	rest, ok := strings.CutPrefix(comment, "container_id: ")
	if !ok {
		return "", false
	}
	id, ifName, ok := strings.Cut(rest, " ifname: ")
	if !ok {
		return "", false
	}
	return RecordKey(id, ifName), true
}

func protoName(p uint8) string {
	for name, n := range protocols {
		if n == p {
			return name
		}
	}
	return fmt.Sprintf("proto-%d", p)
}

// Elements plans the kernel elements of a record: every mapping, for the
// first address of each family the container has.
func Elements(r Record) []Element {
	var out []Element
	for _, f := range Families {
		i := slices.IndexFunc(r.IPs, func(a netip.Addr) bool { return familyOf(a) == f })
		if i < 0 {
			continue
		}
		addr := r.IPs[i].Unmap()
		for _, m := range r.Mappings {
			out = append(out, Element{Family: f, Proto: protocols[m.Protocol], Port: m.HostPort, Chain: r.Chain,
				Target: netip.AddrPortFrom(addr, m.ContainerPort), Tag: r.Key()})
		}
	}
	sortElements(out)
	return out
}

// AllElements plans the elements of every record.
func AllElements(rs []Record) []Element {
	var out []Element
	for _, r := range rs {
		out = append(out, Elements(r)...)
	}
	sortElements(out)
	return out
}

func sortElements(es []Element) {
	slices.SortFunc(es, func(a, b Element) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
	})
}

// Diff returns the elements to delete from have and to add so that the
// kernel holds exactly want. An element whose key is in both but whose
// chain, target or tag differ is deleted and added again.
func Diff(want, have []Element) (add, del []Element) {
	byKey := make(map[string]Element, len(have))
	for _, h := range have {
		byKey[h.Key()] = h
	}
	wantKeys := make(map[string]bool, len(want))
	for _, w := range want {
		wantKeys[w.Key()] = true
		h, ok := byKey[w.Key()]
		if ok && h == w {
			continue
		}
		if ok {
			del = append(del, h)
		}
		add = append(add, w)
	}
	for _, h := range have {
		if !wantKeys[h.Key()] {
			del = append(del, h)
		}
	}
	sortElements(add)
	sortElements(del)
	return add, del
}

// Changes is one batch for the kernel: chains to create or replace, then
// element deletes, element adds, and deletes of the chains no element
// uses any more. Known lists every config chain after the batch; the
// dispatch rules are rewritten from it when chains come or go.
type Changes struct {
	Chains    []ChainSpec
	Del       []Element
	Add       []Element
	DelChains []string
	Known     []ChainSpec
}

// Empty reports whether the batch changes nothing.
func (c Changes) Empty() bool {
	return len(c.Chains) == 0 && len(c.Del) == 0 && len(c.Add) == 0 && len(c.DelChains) == 0
}
