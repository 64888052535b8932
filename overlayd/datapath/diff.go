package datapath

import (
	"bytes"
	"slices"
)

// PeerChanges are the writes that turn the kernel's peer state into the
// wanted one. The fields are in the order a Kernel applies them: first add
// or replace what is missing or wrong, then delete what is left over, so a
// peer whose entries change is replaced in place and never blinks.
type PeerChanges struct {
	// SetFDB entries are added, or replace the entry of the same MAC
	// (`bridge fdb replace ... self permanent`).
	SetFDB []FDBEntry
	// SetNeighs are added, or replace the neighbour of the same IP
	// (`ip neigh replace ... nud permanent`).
	SetNeighs []Neigh
	// SetRoutes are added, or replace the route of the same destination
	// and metric (`ip route replace ... onlink`).
	SetRoutes []Route
	DelRoutes []Route
	DelNeighs []Neigh
	// DelFDB entries are removed one destination at a time; one of them may
	// already be gone because a SetFDB replaced it in place.
	DelFDB []FDBEntry
}

// Len returns the number of writes.
func (c PeerChanges) Len() int {
	return len(c.SetFDB) + len(c.SetNeighs) + len(c.SetRoutes) +
		len(c.DelRoutes) + len(c.DelNeighs) + len(c.DelFDB)
}

// Lines renders the writes on dev in application order, each line the
// object's line with "+ " (add or replace) or "- " (delete) in front.
func (c PeerChanges) Lines(dev string) []string {
	var out []string
	for _, e := range c.SetFDB {
		out = append(out, "+ "+e.line(dev))
	}
	for _, n := range c.SetNeighs {
		out = append(out, "+ "+n.line(dev))
	}
	for _, r := range c.SetRoutes {
		out = append(out, "+ "+r.line(dev))
	}
	for _, r := range c.DelRoutes {
		out = append(out, "- "+r.line(dev))
	}
	for _, n := range c.DelNeighs {
		out = append(out, "- "+n.line(dev))
	}
	for _, e := range c.DelFDB {
		out = append(out, "- "+e.line(dev))
	}
	return out
}

// DiffPeers computes the writes that turn have (read from the kernel) into
// want (from PlanPeers). It is pure: an entry that is already right yields no
// write. It walks both states in their sort order (a merge, O(n); an
// unsorted input is sorted first, on a copy).
//
// The kernel keys the three kinds differently, and the diff follows it:
// a neighbour by IP (so a changed MAC is one replace); an FDB entry by MAC,
// with a list of destinations (a changed underlay is one replace of the only
// destination; extra destinations are deleted); a route by destination and
// metric (a changed gateway is one replace; the same destination at another
// metric is deleted). Entries for keys not wanted at all are deleted. Want
// holds one entry per key, as PlanPeers makes it.
func DiffPeers(have, want PeerState) PeerChanges {
	var c PeerChanges
	have, want = have.sorted(), want.sorted()
	mergeRuns(have.Neighs, want.Neighs, func(a, b Neigh) int { return a.IP.Compare(b.IP) },
		func(hs []Neigh, w *Neigh) {
			if w == nil {
				c.DelNeighs = append(c.DelNeighs, hs...)
			} else if len(hs) == 0 || !bytes.Equal(hs[0].MAC, w.MAC) {
				c.SetNeighs = append(c.SetNeighs, *w)
			}
		})
	mergeRuns(have.FDB, want.FDB, func(a, b FDBEntry) int { return bytes.Compare(a.MAC, b.MAC) },
		func(hs []FDBEntry, w *FDBEntry) { diffFDB(&c, hs, w) })
	mergeRuns(have.Routes, want.Routes, func(a, b Route) int { return comparePrefix(a.Dst, b.Dst) },
		func(hs []Route, w *Route) { diffRoutes(&c, hs, w) })
	return c
}

// sorted returns s with every slice sorted, copying only the unsorted ones.
func (s PeerState) sorted() PeerState {
	if !slices.IsSortedFunc(s.Neighs, compareNeigh) {
		s.Neighs = slices.SortedFunc(slices.Values(s.Neighs), compareNeigh)
	}
	if !slices.IsSortedFunc(s.FDB, compareFDB) {
		s.FDB = slices.SortedFunc(slices.Values(s.FDB), compareFDB)
	}
	if !slices.IsSortedFunc(s.Routes, compareRoute) {
		s.Routes = slices.SortedFunc(slices.Values(s.Routes), compareRoute)
	}
	return s
}

// mergeRuns walks two slices sorted by key and calls fn once per key with
// have's run of entries of that key (maybe empty) and want's first entry of
// that key (nil when want has none). Later want entries of a key are
// ignored.
func mergeRuns[T any](have, want []T, key func(a, b T) int, fn func(hs []T, w *T)) {
	i, j := 0, 0
	for i < len(have) || j < len(want) {
		var c int
		switch {
		case i == len(have):
			c = 1
		case j == len(want):
			c = -1
		default:
			c = key(have[i], want[j])
		}
		end := i
		if c <= 0 {
			for end < len(have) && key(have[end], have[i]) == 0 {
				end++
			}
		}
		if c < 0 {
			fn(have[i:end], nil)
			i = end
			continue
		}
		w := &want[j]
		fn(have[i:end], w)
		i = end
		for j < len(want) && key(want[j], *w) == 0 {
			j++
		}
	}
}

func diffFDB(c *PeerChanges, hs []FDBEntry, w *FDBEntry) {
	if w == nil {
		c.DelFDB = append(c.DelFDB, hs...)
		return
	}
	right := slices.ContainsFunc(hs, func(h FDBEntry) bool { return h.Dst == w.Dst })
	if !right {
		c.SetFDB = append(c.SetFDB, *w)
		if len(hs) <= 1 {
			return // added, or the replace swaps the only destination
		}
	}
	for _, h := range hs {
		if h.Dst != w.Dst {
			c.DelFDB = append(c.DelFDB, h)
		}
	}
}

func diffRoutes(c *PeerChanges, hs []Route, w *Route) {
	if w == nil {
		c.DelRoutes = append(c.DelRoutes, hs...)
		return
	}
	right := slices.Contains(hs, *w)
	if !right {
		c.SetRoutes = append(c.SetRoutes, *w)
	}
	sameMetric := 0
	for _, h := range hs {
		if h.Metric == w.Metric {
			sameMetric++
		}
	}
	for _, h := range hs {
		switch {
		case h == *w:
		case h.Metric == w.Metric && !right && sameMetric == 1:
			// the replace overwrites it in place
		default:
			c.DelRoutes = append(c.DelRoutes, h)
		}
	}
}
