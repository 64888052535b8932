package datapath

import (
	"fmt"
	"strconv"
	"strings"
)

// Chains dcnet owns in the nat and filter tables.
const (
	ChainMasq    = "DCNET-POSTROUTING"
	ChainForward = "DCNET-FORWARD"
	// ChainNoTrack, in the raw table, exempts VxLAN packets from conntrack.
	ChainNoTrack = "DCNET-VXLAN-NOTRACK"
	jumpComment  = "dcnet: overlay masquerade and forwarding"
)

// IPTables is what the masquerade, forward and no-track chains need from
// iptables, for one address family: the methods of go-iptables'
// *iptables.IPTables that they call, and Save. Rules are rulespecs in
// `iptables -S` form without the "-A CHAIN" head. Netlink uses the real
// binaries; FakeIPTables keeps tables in memory for tests.
type IPTables interface {
	// Save returns `iptables-save -t table`: the whole table in one exec.
	Save(table string) (string, error)
	// ChainExists reports whether chain exists in table.
	ChainExists(table, chain string) (bool, error)
	// NewChain creates chain; it is an error if it exists.
	NewChain(table, chain string) error
	// List returns `iptables -t table -S chain`: "-N chain" (a built-in
	// chain: "-P chain policy") and then one "-A chain ..." line per rule.
	List(table, chain string) ([]string, error)
	// ClearChain removes every rule of chain, creating it if missing.
	ClearChain(table, chain string) error
	// Append adds a rule at the end of chain.
	Append(table, chain string, rulespec ...string) error
	// Insert adds a rule at position pos (from 1) of chain.
	Insert(table, chain string, pos int, rulespec ...string) error
	// Exists reports whether chain holds the rule.
	Exists(table, chain string, rulespec ...string) (bool, error)
	// DeleteIfExists removes the rule from chain if it is there.
	DeleteIfExists(table, chain string, rulespec ...string) error
	// ClearAndDeleteChain removes chain and its rules, if it exists; it
	// fails while a rule elsewhere still jumps to it.
	ClearAndDeleteChain(table, chain string) error
}

// MasqueradeRules returns the rules of the nat and filter chains for m, in
// iptables -S form without the "-A CHAIN" head.
func MasqueradeRules(m Masquerade) (nat, filter [][]string) {
	for _, r := range m.Ranges {
		s := r.String()
		nat = append(nat,
			[]string{"-s", s, "-d", s, "-j", "RETURN"},
			[]string{"-s", s, "-j", "MASQUERADE"})
		filter = append(filter,
			[]string{"-s", s, "-j", "ACCEPT"},
			[]string{"-d", s, "-j", "ACCEPT"})
	}
	return nat, filter
}

// NoTrackRules returns the rules of the raw-table chain that exempts the
// VxLAN packets of v from connection tracking, in iptables -S form without
// the "-A CHAIN" head. Both directions of a tunnel go to v.Port.
func NoTrackRules(v VTEP) [][]string {
	return [][]string{{"-p", "udp", "-m", "udp", "--dport", strconv.Itoa(v.Port), "-j", "CT", "--notrack"}}
}

// ensureMasquerade makes the nat chain ChainMasq (jumped to from
// POSTROUTING) and the filter chain ChainForward (jumped to from FORWARD)
// hold exactly m's rules, through ipt of m's family. It adopts chains that
// are already right and repairs those that are not.
func ensureMasquerade(ipt IPTables, m Masquerade) (bool, error) {
	if len(m.Ranges) == 0 {
		return false, nil
	}
	nat, filter := MasqueradeRules(m)
	c1, err := ensureChain(ipt, "nat", ChainMasq, nat, "POSTROUTING")
	if err != nil {
		return c1, err
	}
	c2, err := ensureChain(ipt, "filter", ChainForward, filter, "FORWARD")
	return c1 || c2, err
}

// ensureNoTrack makes the raw-table chain ChainNoTrack exist (jumped to
// from PREROUTING and OUTPUT) when v.NoTrack is set, and removes it
// otherwise; ipt is of v's underlay family.
func ensureNoTrack(ipt IPTables, v VTEP) (bool, error) {
	if !v.NoTrack {
		return removeChain(ipt, "raw", ChainNoTrack, "PREROUTING", "OUTPUT")
	}
	return ensureChain(ipt, "raw", ChainNoTrack, NoTrackRules(v), "PREROUTING", "OUTPUT")
}

// jumpRule is the rule by which a parent chain jumps to chain.
func jumpRule(chain string) []string {
	return []string{"-m", "comment", "--comment", jumpComment, "-j", chain}
}

// ensureChain makes chain hold exactly rules and be jumped to from every
// parent. It first reads the table with one Save: when all is as wanted
// (every reconcile but the first and those after hand damage) that is its
// only exec.
func ensureChain(ipt IPTables, table, chain string, rules [][]string, parents ...string) (bool, error) {
	if saved, err := ipt.Save(table); err == nil && chainInSync(saved, chain, rules, parents) {
		return false, nil
	}
	changed := false
	exists, err := ipt.ChainExists(table, chain)
	if err != nil {
		return false, fmt.Errorf("check chain %s/%s: %w", table, chain, err)
	}
	if !exists {
		if err := ipt.NewChain(table, chain); err != nil {
			return false, fmt.Errorf("create chain %s/%s: %w", table, chain, err)
		}
		changed = true
	}
	have, err := ipt.List(table, chain)
	if err != nil {
		return changed, fmt.Errorf("list chain %s/%s: %w", table, chain, err)
	}
	want := []string{"-N " + chain}
	for _, r := range rules {
		want = append(want, "-A "+chain+" "+strings.Join(r, " "))
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		if err := ipt.ClearChain(table, chain); err != nil {
			return changed, fmt.Errorf("clear chain %s/%s: %w", table, chain, err)
		}
		for _, r := range rules {
			if err := ipt.Append(table, chain, r...); err != nil {
				return true, fmt.Errorf("add rule %q to %s/%s: %w", strings.Join(r, " "), table, chain, err)
			}
		}
		changed = true
	}
	jump := jumpRule(chain)
	for _, parent := range parents {
		ok, err := ipt.Exists(table, parent, jump...)
		if err != nil {
			return changed, fmt.Errorf("check jump %s/%s -> %s: %w", table, parent, chain, err)
		}
		if !ok {
			if err := ipt.Insert(table, parent, 1, jump...); err != nil {
				return changed, fmt.Errorf("add jump %s/%s -> %s: %w", table, parent, chain, err)
			}
			changed = true
		}
	}
	return changed, nil
}

// chainInSync reports whether an iptables-save dump shows chain holding
// exactly rules, in order, and jumped to from every parent with dcnet's
// comment. The lines are compared in the form `iptables -S` prints, which
// iptables-save shares.
func chainInSync(saved, chain string, rules [][]string, parents []string) bool {
	var have []string
	exists := false
	jumps := map[string]bool{}
	for _, line := range strings.Split(saved, "\n") {
		switch {
		case strings.HasPrefix(line, ":"+chain+" "):
			exists = true
		case strings.HasPrefix(line, "-A "+chain+" "):
			have = append(have, line)
		case strings.HasPrefix(line, "-A ") && strings.HasSuffix(line, " -j "+chain) && strings.Contains(line, jumpComment):
			jumps[strings.Fields(line)[1]] = true
		}
	}
	if !exists || len(have) != len(rules) {
		return false
	}
	for i, r := range rules {
		if have[i] != "-A "+chain+" "+strings.Join(r, " ") {
			return false
		}
	}
	for _, p := range parents {
		if !jumps[p] {
			return false
		}
	}
	return true
}

// removeChain deletes chain from table and its jumps from parents, if it
// exists.
func removeChain(ipt IPTables, table, chain string, parents ...string) (bool, error) {
	exists, err := ipt.ChainExists(table, chain)
	if err != nil || !exists {
		if err != nil {
			err = fmt.Errorf("check chain %s/%s: %w", table, chain, err)
		}
		return false, err
	}
	jump := jumpRule(chain)
	for _, p := range parents {
		if err := ipt.DeleteIfExists(table, p, jump...); err != nil {
			return true, fmt.Errorf("delete jump %s/%s -> %s: %w", table, p, chain, err)
		}
	}
	if err := ipt.ClearAndDeleteChain(table, chain); err != nil {
		return true, fmt.Errorf("delete chain %s/%s: %w", table, chain, err)
	}
	return true, nil
}
