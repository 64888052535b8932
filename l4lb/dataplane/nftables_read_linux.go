package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Read implements Kernel.
func (n *NFTables) Read(f Family) (Current, error) {
	var cur Current
	err := n.withConn(func(c *nftables.Conn) error {
		var err error
		cur, err = read(c, n.raw, f)
		return err
	})
	return cur, err
}

func read(c *nftables.Conn, raw *netlink.Conn, f Family) (Current, error) {
	cur := Current{State: NewState()}
	l := layouts[f]
	tables, err := c.ListTablesOfFamily(l.family)
	if err != nil {
		return cur, fmt.Errorf("list tables: %w", err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == TableName }) {
		return cur, nil
	}
	cur.Present = true
	t := l.table()
	intact, err := l.readChains(c, t, &cur.State)
	if err != nil {
		return cur, err
	}
	setsOK, err := l.readMaps(c, raw, t, &cur.State)
	if err != nil {
		return cur, err
	}
	cur.Intact = intact && setsOK
	return cur, nil
}

// readChains lists the table's chains into s.Chains and reports whether
// the skeleton chains are there with their hooks and rules.
func (l layout) readChains(c *nftables.Conn, t *nftables.Table, s *State) (bool, error) {
	chains, err := c.ListChainsOfTableFamily(l.family)
	if err != nil {
		return false, fmt.Errorf("list chains: %w", err)
	}
	ok := true
	seen := map[string]bool{}
	for _, ch := range chains {
		if ch.Table.Name != TableName {
			continue
		}
		seen[ch.Name] = true
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return false, fmt.Errorf("list rules of chain %s: %w", ch.Name, err)
		}
		switch ch.Name {
		case chainPrerouting, chainOutput:
			ok = ok && baseChainOK(ch) && len(rules) == 1 && len(rules[0].Exprs) == 4
		case chainHairpin:
			ok = ok && hookOK(ch, nftables.ChainTypeFilter, nftables.ChainHookPrerouting, hairpinPriority) &&
				len(rules) == 2 && len(rules[0].Exprs) == len(hairpinExprs()) && len(rules[1].Exprs) == len(vipAccessMarkExprs())
		case chainVIPAccess:
			ok = ok && hookOK(ch, nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter) &&
				len(rules) == 1 && len(rules[0].Exprs) == len(vipAccessRejectExprs())
		case chainPostrout:
			ok = ok && hookOK(ch, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource) &&
				len(rules) == 1 && len(rules[0].Exprs) == len(masqueradeExprs())
		case chainNoVIP:
			ok = ok && ch.Hooknum == nil && len(rules) == 2
		default:
			k, lbOK := lbChainK(ch, rules)
			if !lbOK {
				ok = false
				continue
			}
			s.Chains = append(s.Chains, k)
		}
	}
	slices.Sort(s.Chains)
	return ok && seen[chainPrerouting] && seen[chainOutput] && seen[chainHairpin] && seen[chainPostrout] && seen[chainNoVIP] &&
		seen[chainVIPAccess], nil
}

func baseChainOK(ch *nftables.Chain) bool {
	want := nftables.ChainHookPrerouting
	if ch.Name == chainOutput {
		want = nftables.ChainHookOutput
	}
	return hookOK(ch, nftables.ChainTypeNAT, want, nftables.ChainPriorityNATDest)
}

// hookOK reports whether ch is a base chain of type typ on hook at prio
// with policy accept.
func hookOK(ch *nftables.Chain, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) bool {
	return ch.Type == typ && ch.Hooknum != nil && *ch.Hooknum == *hook &&
		ch.Priority != nil && *ch.Priority == *prio &&
		ch.Policy != nil && *ch.Policy == nftables.ChainPolicyAccept
}

// lbChainK parses an lb-K chain and checks its two rules: the mark of
// host clients (localMarkExprs), then the pick among K slots in round
// robin (numgen inc mod K from 0). A chain of an earlier version (numgen
// random, or no mark rule) counts as damage, so its table is rebuilt once.
func lbChainK(ch *nftables.Chain, rules []*nftables.Rule) (int, bool) {
	ks, found := strings.CutPrefix(ch.Name, "lb-")
	k, err := strconv.Atoi(ks)
	if !found || err != nil || k < 1 || ChainName(k) != ch.Name || ch.Hooknum != nil || len(rules) != 2 {
		return 0, false
	}
	if len(rules[0].Exprs) != len(localMarkExprs()) {
		return 0, false
	}
	if f, isFib := rules[0].Exprs[0].(*expr.Fib); !isFib || !f.FlagSADDR || !f.ResultADDRTYPE {
		return 0, false
	}
	for _, e := range rules[1].Exprs {
		if ng, isNG := e.(*expr.Numgen); isNG {
			return k, ng.Modulus == uint32(k) && ng.Type == unix.NFT_NG_INCREMENTAL && ng.Offset == 0 && len(rules[1].Exprs) == 6
		}
	}
	return 0, false
}

// readMaps reads both maps' elements into s and reports whether the maps
// exist with the wanted types.
func (l layout) readMaps(c *nftables.Conn, raw *netlink.Conn, t *nftables.Table, s *State) (bool, error) {
	sets, err := c.GetSets(t)
	if err != nil {
		return false, fmt.Errorf("list maps: %w", err)
	}
	var vips, backends *nftables.Set
	for _, set := range sets {
		switch set.Name {
		case mapVIPs:
			vips = set
		case mapBackends:
			backends = set
		}
	}
	if vips == nil || backends == nil || !vips.IsMap || !backends.IsMap ||
		backends.KeyType.Bytes != l.backendKey.Bytes || backends.DataType.Bytes != l.backendData.Bytes {
		// google/nftables v0.3.0 decodes a verdict map's types oddly, so
		// only the backends map's types are checked.
		return false, nil
	}
	ok := true
	fam := byte(l.family)
	err = dumpElements(raw, fam, TableName, mapVIPs, func(k, _, verdict []byte) {
		key, kOK := l.decodeKey(k)
		slots, vOK := verdictSlots(decodeVerdict(verdict))
		if !kOK || !vOK {
			ok = false // an element nobody here wrote: rebuild
			return
		}
		s.VIPs[key] = slots
	})
	if err != nil {
		return false, err
	}
	err = dumpElements(raw, fam, TableName, mapBackends, func(k, data, _ []byte) {
		key, kOK := l.decodeSlotKey(k)
		ap, vOK := l.decodeBackend(data)
		if !kOK || !vOK {
			ok = false
			return
		}
		s.Backends[key] = ap
	})
	return ok, err
}

func verdictSlots(v *expr.Verdict) (int, bool) {
	if v == nil || v.Kind != expr.VerdictJump {
		return 0, false
	}
	if v.Chain == chainNoVIP {
		return 0, true
	}
	ks, found := strings.CutPrefix(v.Chain, "lb-")
	k, err := strconv.Atoi(ks)
	return k, found && err == nil && k > 0
}

func (l layout) decodeKey(b []byte) (ServiceKey, bool) {
	n := int(l.addrLen)
	if len(b) < n+8 {
		return ServiceKey{}, false
	}
	a, _ := netip.AddrFromSlice(b[:n])
	return ServiceKey{Addr: a, Proto: b[n], Port: binary.BigEndian.Uint16(b[n+4:])}, true
}

func (l layout) decodeSlotKey(b []byte) (SlotKey, bool) {
	n := int(l.addrLen) + 8
	k, ok := l.decodeKey(b)
	if !ok || len(b) != n+4 {
		return SlotKey{}, false
	}
	return SlotKey{ServiceKey: k, Slot: binaryutil.NativeEndian.Uint32(b[n:])}, true
}

func (l layout) decodeBackend(b []byte) (netip.AddrPort, bool) {
	n := int(l.addrLen)
	if len(b) != n+4 {
		return netip.AddrPort{}, false
	}
	a, _ := netip.AddrFromSlice(b[:n])
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[n:])), true
}

// Verdict attributes (linux/netfilter/nf_tables.h).
const (
	nftaVerdictCode  = 1
	nftaVerdictChain = 2
	nftJump          = 0xfffffffd // NFT_JUMP, -3
)

// decodeVerdict parses the nested verdict attributes (the content of
// NFTA_DATA_VERDICT) of a vips element.
func decodeVerdict(b []byte) *expr.Verdict {
	var v expr.Verdict
	jump := false
	for len(b) >= 4 {
		n := int(binaryutil.NativeEndian.Uint16(b[0:2]))
		typ := binaryutil.NativeEndian.Uint16(b[2:4]) &^ (1<<15 | 1<<14)
		if n < 4 || n > len(b) {
			return nil
		}
		data := b[4:n]
		switch {
		case typ == nftaVerdictCode && len(data) == 4:
			jump = binary.BigEndian.Uint32(data) == nftJump
		case typ == nftaVerdictChain:
			v.Chain = strings.TrimRight(string(data), "\x00")
		}
		b = b[min((n+3)&^3, len(b)):]
	}
	if !jump {
		return nil
	}
	v.Kind = expr.VerdictJump
	return &v
}
