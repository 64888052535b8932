package datapath

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

var _ IPTables = (*FakeIPTables)(nil)

// builtinChains are the chains each table starts with, in iptables-save's
// order.
var builtinChains = map[string][]string{
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"raw":    {"PREROUTING", "OUTPUT"},
	"mangle": {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
}

// FakeIPTables is an in-memory IPTables of one family for tests: the
// tables filter, nat, raw and mangle with their built-in chains, rules
// compared as given (no normalisation, as the rules dcnet writes are in
// iptables' own form already). String prints it as `iptables -S` lines
// with the table named, which tests compare; tests edit it through its
// methods as an operator would with iptables.
type FakeIPTables struct {
	tables map[string]*fakeTable
	// Calls lists every method called, "Save nat", "Append nat
	// DCNET-POSTROUTING", ..., so a test can count what a reconcile
	// would exec.
	Calls []string
	// Fail makes the methods it names ("Append", "Save") fail with its
	// error.
	Fail map[string]error
}

// fakeTable is one table: its chains in creation order (built-in first).
type fakeTable struct {
	order []string
	rules map[string][][]string
}

// NewFakeIPTables returns tables holding only their empty built-in chains.
func NewFakeIPTables() *FakeIPTables {
	f := &FakeIPTables{tables: map[string]*fakeTable{}}
	for name, chains := range builtinChains {
		t := &fakeTable{rules: map[string][][]string{}}
		for _, c := range chains {
			t.order = append(t.order, c)
			t.rules[c] = nil
		}
		f.tables[name] = t
	}
	return f
}

// call records a call and returns its table, or the error Fail holds for
// it or that the table is unknown.
func (f *FakeIPTables) call(method, table string, chain ...string) (*fakeTable, error) {
	f.Calls = append(f.Calls, strings.Join(append([]string{method, table}, chain...), " "))
	if err := f.Fail[method]; err != nil {
		return nil, err
	}
	t, ok := f.tables[table]
	if !ok {
		return nil, fmt.Errorf("iptables: can't initialize iptables table `%s': Table does not exist", table)
	}
	return t, nil
}

// chain returns the rules of chain, or an error if it does not exist.
func (t *fakeTable) chain(table, chain string) ([][]string, error) {
	rules, ok := t.rules[chain]
	if !ok {
		return nil, fmt.Errorf("iptables: chain %s does not exist in table %s", chain, table)
	}
	return rules, nil
}

func builtin(table, chain string) bool { return slices.Contains(builtinChains[table], chain) }

// Save implements IPTables.
func (f *FakeIPTables) Save(table string) (string, error) {
	t, err := f.call("Save", table)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s\n", table)
	for _, c := range t.order {
		policy := "-"
		if builtin(table, c) {
			policy = "ACCEPT"
		}
		fmt.Fprintf(&b, ":%s %s [0:0]\n", c, policy)
	}
	for _, c := range t.order {
		for _, r := range t.rules[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, ruleText(r))
		}
	}
	b.WriteString("COMMIT\n")
	return b.String(), nil
}

// ChainExists implements IPTables.
func (f *FakeIPTables) ChainExists(table, chain string) (bool, error) {
	t, err := f.call("ChainExists", table, chain)
	if err != nil {
		return false, err
	}
	_, ok := t.rules[chain]
	return ok, nil
}

// NewChain implements IPTables.
func (f *FakeIPTables) NewChain(table, chain string) error {
	t, err := f.call("NewChain", table, chain)
	if err != nil {
		return err
	}
	if _, ok := t.rules[chain]; ok {
		return fmt.Errorf("iptables: chain %s already exists in table %s", chain, table)
	}
	t.order = append(t.order, chain)
	t.rules[chain] = nil
	return nil
}

// List implements IPTables.
func (f *FakeIPTables) List(table, chain string) ([]string, error) {
	t, err := f.call("List", table, chain)
	if err != nil {
		return nil, err
	}
	rules, err := t.chain(table, chain)
	if err != nil {
		return nil, err
	}
	out := []string{"-N " + chain}
	if builtin(table, chain) {
		out = []string{"-P " + chain + " ACCEPT"}
	}
	for _, r := range rules {
		out = append(out, "-A "+chain+" "+ruleText(r))
	}
	return out, nil
}

// ClearChain implements IPTables.
func (f *FakeIPTables) ClearChain(table, chain string) error {
	t, err := f.call("ClearChain", table, chain)
	if err != nil {
		return err
	}
	if _, ok := t.rules[chain]; !ok {
		t.order = append(t.order, chain)
	}
	t.rules[chain] = nil
	return nil
}

// Append implements IPTables.
func (f *FakeIPTables) Append(table, chain string, rulespec ...string) error {
	return f.insert("Append", table, chain, -1, rulespec)
}

// Insert implements IPTables.
func (f *FakeIPTables) Insert(table, chain string, pos int, rulespec ...string) error {
	return f.insert("Insert", table, chain, pos, rulespec)
}

// insert adds rule at pos (from 1; -1 appends).
func (f *FakeIPTables) insert(method, table, chain string, pos int, rule []string) error {
	t, err := f.call(method, table, chain)
	if err != nil {
		return err
	}
	rules, err := t.chain(table, chain)
	if err != nil {
		return err
	}
	if target := jumpTarget(rule); target != "" && !builtinTarget(target) {
		if _, ok := t.rules[target]; !ok {
			return fmt.Errorf("iptables: couldn't load target `%s': No such file or directory", target)
		}
	}
	if pos == -1 {
		pos = len(rules) + 1
	}
	if pos < 1 || pos > len(rules)+1 {
		return fmt.Errorf("iptables: index of insertion too big: %d in %s/%s", pos, table, chain)
	}
	t.rules[chain] = slices.Insert(rules, pos-1, slices.Clone(rule))
	return nil
}

// Exists implements IPTables.
func (f *FakeIPTables) Exists(table, chain string, rulespec ...string) (bool, error) {
	t, err := f.call("Exists", table, chain)
	if err != nil {
		return false, err
	}
	rules, err := t.chain(table, chain)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(rules, func(r []string) bool { return slices.Equal(r, rulespec) }), nil
}

// DeleteIfExists implements IPTables.
func (f *FakeIPTables) DeleteIfExists(table, chain string, rulespec ...string) error {
	t, err := f.call("DeleteIfExists", table, chain)
	if err != nil {
		return err
	}
	rules, err := t.chain(table, chain)
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(rules, func(r []string) bool { return slices.Equal(r, rulespec) }); i >= 0 {
		t.rules[chain] = slices.Delete(rules, i, i+1)
	}
	return nil
}

// ClearAndDeleteChain implements IPTables.
func (f *FakeIPTables) ClearAndDeleteChain(table, chain string) error {
	t, err := f.call("ClearAndDeleteChain", table, chain)
	if err != nil {
		return err
	}
	if _, ok := t.rules[chain]; !ok {
		return nil
	}
	if builtin(table, chain) {
		return fmt.Errorf("iptables: can't delete built-in chain %s", chain)
	}
	for _, c := range t.order {
		for _, r := range t.rules[c] {
			if c != chain && jumpTarget(r) == chain {
				return fmt.Errorf("iptables: chain %s in table %s is still referenced from %s (Too many links)", chain, table, c)
			}
		}
	}
	delete(t.rules, chain)
	t.order = slices.DeleteFunc(t.order, func(c string) bool { return c == chain })
	return nil
}

// String prints every table's user chains ("-t nat -N CHAIN") and rules
// ("-t nat -A CHAIN ..."), tables in name order, chains in iptables-save's
// order; built-in chains without rules print nothing.
func (f *FakeIPTables) String() string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(f.tables)) {
		t := f.tables[name]
		for _, c := range t.order {
			if !builtin(name, c) {
				fmt.Fprintf(&b, "-t %s -N %s\n", name, c)
			}
		}
		for _, c := range t.order {
			for _, r := range t.rules[c] {
				fmt.Fprintf(&b, "-t %s -A %s %s\n", name, c, ruleText(r))
			}
		}
	}
	return b.String()
}

// ruleText joins a rulespec as iptables -S prints it: an argument with a
// space in double quotes.
func ruleText(rule []string) string {
	parts := make([]string, len(rule))
	for i, a := range rule {
		if strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// jumpTarget is the argument of a rule's -j, "" without one.
func jumpTarget(rule []string) string {
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] == "-j" {
			return rule[i+1]
		}
	}
	return ""
}

// targets are the -j targets that are not chains.
var targets = []string{"ACCEPT", "DROP", "RETURN", "REJECT", "LOG", "MASQUERADE", "SNAT", "DNAT", "CT", "NOTRACK", "MARK"}

// builtinTarget reports whether a -j target is an iptables target rather
// than a chain.
func builtinTarget(target string) bool { return slices.Contains(targets, target) }
