package portmap

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// checkOwner refuses tables that another state directory marked.
func (n *NFTables) checkOwner(c *nftables.Conn, l layout) error {
	if n.owner == "" {
		return nil
	}
	chains, err := c.ListChainsOfTableFamily(l.family)
	if err != nil {
		return n.done(fmt.Errorf("list %s chains: %w", familyName(l), err))
	}
	for _, ch := range chains {
		if ch.Table.Name == TableName && strings.HasPrefix(ch.Name, ownerPrefix) && ch.Name != n.owner {
			return fmt.Errorf("table %s %s belongs to another state directory (chain %s, this one is %s): every runtime on a node "+
				"must share one dcnet-portmap stateDir (the CNI configs' \"stateDir\", dcnet-cnm --portmap-state-dir); not replacing it",
				familyName(l), TableName, ch.Name, n.owner)
		}
	}
	return nil
}

// Elements implements Kernel.
func (n *NFTables) Elements() ([]Element, error) {
	c, err := n.open()
	if err != nil {
		return nil, err
	}
	var out []Element
	for f, l := range layouts {
		tables, err := c.ListTablesOfFamily(l.family)
		if err != nil {
			return nil, fmt.Errorf("list %s tables: %w", familyName(l), err)
		}
		if !slices.ContainsFunc(tables, func(x *nftables.Table) bool { return x.Name == TableName }) {
			continue
		}
		es, err := l.readElements(c, Family(f))
		if err != nil {
			return nil, n.done(err)
		}
		out = append(out, es...)
	}
	sortElements(out)
	return out, nil
}

// readElements joins the two maps of one table by key; a key in only one
// of them is read as an element with a zero target or no chain, which a
// Diff against the state replaces.
func (l layout) readElements(c *nftables.Conn, f Family) ([]Element, error) {
	t := l.table()
	byKey := map[string]*Element{}
	var order []string
	get := func(name string) ([]nftables.SetElement, error) {
		s, err := c.GetSetByName(t, name)
		if err != nil {
			return nil, nil // a missing map: the skeleton check repairs it
		}
		es, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("list %s %s map %s: %w", familyName(l), TableName, name, err)
		}
		return es, nil
	}
	elem := func(key []byte, comment string) *Element {
		proto, port, ok := decodePortKey(key)
		if !ok {
			return nil
		}
		e := Element{Family: f, Proto: proto, Port: port}
		if tag, ok := TagOf(comment); ok {
			e.Tag = tag
		}
		k := e.Key()
		if byKey[k] == nil {
			byKey[k] = &e
			order = append(order, k)
		}
		return byKey[k]
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return nil, fmt.Errorf("list sets of %s %s: %w", familyName(l), TableName, err)
	}
	for _, set := range sets {
		if set.Name == mapTargets {
			continue
		}
		es, err := get(set.Name)
		if err != nil {
			return nil, err
		}
		for _, se := range es {
			if e := elem(se.Key, se.Comment); e != nil {
				e.Chain = set.Name
			}
		}
	}
	targets, err := get(mapTargets)
	if err != nil {
		return nil, err
	}
	for _, se := range targets {
		if e := elem(se.Key, se.Comment); e != nil {
			e.Target, _ = l.decodeTarget(se.Val)
		}
	}
	out := make([]Element, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, nil
}

// Remove deletes both tables; missing ones, and tables another state
// directory owns, are left alone.
func (n *NFTables) Remove() error {
	c, err := n.open()
	if err != nil {
		return err
	}
	for _, l := range layouts {
		tables, err := c.ListTablesOfFamily(l.family)
		if err != nil {
			return n.done(fmt.Errorf("list %s tables: %w", familyName(l), err))
		}
		if slices.ContainsFunc(tables, func(x *nftables.Table) bool { return x.Name == TableName }) {
			if n.checkOwner(c, l) != nil {
				continue // another state's tables: not ours to remove
			}
			c.DelTable(l.table())
		}
	}
	if err := c.Flush(); err != nil {
		return n.done(fmt.Errorf("delete %s tables: %w", TableName, err))
	}
	return nil
}

// RouteLocalnet implements Kernel.
func (n *NFTables) RouteLocalnet(addr string) error {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() == nil {
		return fmt.Errorf("route_localnet toward %q: want an IPv4 address", addr)
	}
	routes, err := netlink.RouteGet(ip)
	if err != nil || len(routes) == 0 {
		return fmt.Errorf("route to %s: %v", addr, err)
	}
	link, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return fmt.Errorf("device of the route to %s: %w", addr, err)
	}
	path := filepath.Join("/proc/sys/net/ipv4/conf", link.Attrs().Name, "route_localnet")
	if cur, err := os.ReadFile(path); err == nil && len(cur) > 0 && cur[0] == '1' {
		return nil
	}
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", path, err)
	}
	return nil
}
