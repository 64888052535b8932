package portmap

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

var _ Kernel = (*NFTables)(nil)

// NFTables is the Kernel on the nftables of the namespace the plugin runs
// in, over netlink: no nft or iptables binary, no shell and no xtables
// lock (MESOS-9127). It keeps one netlink socket for all its requests
// (a socket per request costs a dial and a close each), dropped after a
// failure; Close releases it. Not safe for concurrent use.
type NFTables struct {
	conn *nftables.Conn
	// owner is the chain that names the state the tables are built from
	// (see SetOwner); "" checks nothing.
	owner string
}

// ownerPrefix starts the name of the empty chain that marks which state
// directory the tables belong to.
const ownerPrefix = "state-"

// SetOwner makes the tables belong to the state in stateDir: Rebuild
// marks them so, Intact wants the mark, and Rebuild refuses to replace
// tables another state directory wrote (two states on one node would
// wipe each other's mappings).
func (n *NFTables) SetOwner(stateDir string) {
	sum := sha256.Sum256([]byte(stateDir))
	n.owner = ownerPrefix + hex.EncodeToString(sum[:4])
}

// NewNFTables returns the Kernel of the calling thread's namespace (the
// socket is opened on first use).
func NewNFTables() *NFTables { return &NFTables{} }

// open returns the lasting connection.
func (n *NFTables) open() (*nftables.Conn, error) {
	if n.conn != nil {
		return n.conn, nil
	}
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink: %w", err)
	}
	n.conn = c
	return c, nil
}

// done drops the connection after a failure (a failed batch may leave
// acknowledgements unread).
func (n *NFTables) done(err error) error {
	if err != nil && n.conn != nil {
		_ = n.conn.CloseLasting()
		n.conn = nil
	}
	return err
}

// Close releases the netlink socket; the NFTables stays usable.
func (n *NFTables) Close() error {
	if n.conn == nil {
		return nil
	}
	err := n.conn.CloseLasting()
	n.conn = nil
	return err
}

// Intact implements Kernel.
func (n *NFTables) Intact(chains []ChainSpec) (bool, error) {
	c, err := n.open()
	if err != nil {
		return false, err
	}
	for _, l := range layouts {
		ok, err := l.intact(c, chains, n.owner)
		if err != nil || !ok {
			return false, n.done(err)
		}
	}
	return true, nil
}

func (l layout) intact(c *nftables.Conn, chains []ChainSpec, owner string) (bool, error) {
	tables, err := c.ListTablesOfFamily(l.family)
	if err != nil {
		return false, fmt.Errorf("list %s tables: %w", familyName(l), err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == TableName }) {
		return false, nil
	}
	t := l.table()
	sets, err := c.GetSets(t)
	if err != nil {
		return false, fmt.Errorf("list sets of %s %s: %w", familyName(l), TableName, err)
	}
	names := []string{mapTargets}
	for _, cs := range chains {
		names = append(names, cs.Name)
	}
	for _, name := range names {
		if !slices.ContainsFunc(sets, func(s *nftables.Set) bool { return s.Name == name }) {
			return false, nil
		}
	}
	want := l.fixedRules(chains)
	for _, cs := range chains {
		want[cs.Name] = l.chainRules(cs)
	}
	if owner != "" {
		want[owner] = nil
	}
	// One chain at a time, by name: a dump of every chain of the family
	// would grow with other tables (iptables-nft's nat table holds a chain
	// per container of the reference portmap plugin).
	for name, rules := range want {
		ch, err := c.ListChain(t, name)
		if err != nil || !hookOK(ch) {
			return false, nil // missing (ENOENT) or hooked otherwise
		}
		got, err := c.GetRules(t, ch)
		if err != nil {
			return false, fmt.Errorf("list rules of %s %s chain %s: %w", familyName(l), TableName, name, err)
		}
		exprs := make([][]expr.Any, len(got))
		for j, r := range got {
			exprs[j] = r.Exprs
		}
		if signature(exprs) != signature(rules) {
			return false, nil
		}
	}
	return true, nil
}

// hookOK reports whether ch is hooked as the skeleton wants (a config
// chain has no hook).
func hookOK(ch *nftables.Chain) bool {
	i := slices.IndexFunc(baseChains, func(b baseChain) bool { return b.name == ch.Name })
	if i < 0 {
		return ch.Hooknum == nil
	}
	b := baseChains[i]
	return ch.Type == b.typ && ch.Hooknum != nil && *ch.Hooknum == *b.hook &&
		ch.Priority != nil && *ch.Priority == *b.priority && ch.Policy != nil && *ch.Policy == nftables.ChainPolicyAccept
}

// Rebuild implements Kernel.
func (n *NFTables) Rebuild(chains []ChainSpec, elems []Element) error {
	for _, l := range layouts {
		c, err := n.open()
		if err != nil {
			return err
		}
		tables, err := c.ListTablesOfFamily(l.family)
		if err != nil {
			return n.done(fmt.Errorf("list %s tables: %w", familyName(l), err))
		}
		t := l.table()
		if slices.ContainsFunc(tables, func(x *nftables.Table) bool { return x.Name == TableName }) {
			if err := n.checkOwner(c, l); err != nil {
				return err
			}
			c.DelTable(t)
		}
		c.AddTable(t)
		if n.owner != "" {
			c.AddChain(&nftables.Chain{Table: t, Name: n.owner})
		}
		targets := l.targets(t)
		if err := c.AddSet(targets, nil); err != nil {
			return fmt.Errorf("add map %s: %w", mapTargets, err)
		}
		// Config chains first: hostports jumps to them.
		for _, cs := range chains {
			if err := l.addChain(c, t, cs); err != nil {
				return err
			}
		}
		accept := nftables.ChainPolicyAccept
		fixed := l.fixedRules(chains)
		l.writeHostports(c, t, fixed[chainHostports])
		for _, b := range baseChains {
			ch := c.AddChain(&nftables.Chain{Table: t, Name: b.name, Type: b.typ, Hooknum: b.hook, Priority: b.priority, Policy: &accept})
			for _, r := range fixed[b.name] {
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
			}
		}
		if err := l.addElements(c, t, targets, familyElems(elems, l)); err != nil {
			return n.done(err)
		}
		if err := c.Flush(); err != nil {
			return n.done(fmt.Errorf("rebuild %s %s: %w", familyName(l), TableName, err))
		}
	}
	return nil
}

// addChain creates a config chain's set and the chain with its rules (or
// replaces the rules of an existing one).
func (l layout) addChain(c *nftables.Conn, t *nftables.Table, cs ChainSpec) error {
	if err := c.AddSet(portSet(t, cs.Name), nil); err != nil {
		return fmt.Errorf("add set %s: %w", cs.Name, err)
	}
	ch := c.AddChain(&nftables.Chain{Table: t, Name: cs.Name})
	c.FlushChain(ch)
	for _, r := range l.chainRules(cs) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
	}
	return nil
}

// writeHostports (re)writes the dispatch chain.
func (l layout) writeHostports(c *nftables.Conn, t *nftables.Table, rules [][]expr.Any) {
	ch := c.AddChain(&nftables.Chain{Table: t, Name: chainHostports})
	c.FlushChain(ch)
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
	}
}

// Apply implements Kernel.
func (n *NFTables) Apply(ch Changes) error {
	for _, l := range layouts {
		add, del := familyElems(ch.Add, l), familyElems(ch.Del, l)
		if len(ch.Chains) == 0 && len(add) == 0 && len(del) == 0 && len(ch.DelChains) == 0 {
			continue
		}
		c, err := n.open()
		if err != nil {
			return err
		}
		t := l.table()
		targets := l.targets(t)
		for _, cs := range ch.Chains {
			if err := l.addChain(c, t, cs); err != nil {
				return n.done(err)
			}
		}
		if len(ch.Chains) > 0 || len(ch.DelChains) > 0 {
			l.writeHostports(c, t, l.fixedRules(ch.Known)[chainHostports])
		}
		// An element read back from one side only (hand damage) is deleted
		// from that side only.
		var delTargets []Element
		for _, e := range del {
			if e.Chain != "" {
				if err := c.SetDeleteElements(portSet(t, e.Chain), portElems([]Element{e}, false)); err != nil {
					return n.done(fmt.Errorf("delete elements: %w", err))
				}
			}
			if e.Target.IsValid() {
				delTargets = append(delTargets, e)
			}
		}
		if len(delTargets) > 0 {
			if err := c.SetDeleteElements(targets, targetElems(delTargets, false)); err != nil {
				return n.done(fmt.Errorf("delete elements: %w", err))
			}
		}
		if err := l.addElements(c, t, targets, add); err != nil {
			return n.done(err)
		}
		for _, name := range ch.DelChains {
			c.DelChain(&nftables.Chain{Table: t, Name: name})
			c.DelSet(portSet(t, name))
		}
		if err := c.Flush(); err != nil {
			return n.done(fmt.Errorf("update %s %s: %w", familyName(l), TableName, err))
		}
	}
	return nil
}

func (l layout) addElements(c *nftables.Conn, t *nftables.Table, targets *nftables.Set, es []Element) error {
	if len(es) == 0 {
		return nil
	}
	if err := c.SetAddElements(targets, targetElems(es, true)); err != nil {
		return fmt.Errorf("add elements: %w", err)
	}
	byChain := map[string][]Element{}
	for _, e := range es {
		byChain[e.Chain] = append(byChain[e.Chain], e)
	}
	for chain, part := range byChain {
		if err := c.SetAddElements(portSet(t, chain), portElems(part, true)); err != nil {
			return fmt.Errorf("add elements: %w", err)
		}
	}
	return nil
}

func familyName(l layout) string {
	if l.family == nftables.TableFamilyIPv6 {
		return "ip6"
	}
	return "ip"
}

func familyElems(es []Element, l layout) []Element {
	want := IPv4
	if l.family == nftables.TableFamilyIPv6 {
		want = IPv6
	}
	var out []Element
	for _, e := range es {
		if e.Family == want {
			out = append(out, e)
		}
	}
	return out
}

func portElems(es []Element, withData bool) []nftables.SetElement {
	out := make([]nftables.SetElement, len(es))
	for i, e := range es {
		out[i].Key = encodePortKey(e.Proto, e.Port)
		if withData {
			out[i].Comment = Comment(e.Tag)
		}
	}
	return out
}

func targetElems(es []Element, withData bool) []nftables.SetElement {
	out := make([]nftables.SetElement, len(es))
	for i, e := range es {
		out[i].Key = encodePortKey(e.Proto, e.Port)
		if withData {
			out[i].Val = encodeTarget(e.Target)
			out[i].Comment = Comment(e.Tag)
		}
	}
	return out
}
