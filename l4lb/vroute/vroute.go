package vroute

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// LinkName is the link the VIP routes point at (dcos-net's name).
const LinkName = "minuteman"

// Protocol is the route protocol (rtm_protocol) of dcnet-l4lb's routes:
// `ip route show proto 220`.
const Protocol = 220

// Plan returns the routes a node needs for its VIPs: the named prefixes,
// and a host route for each VIP address outside them, sorted and unique.
// Invalid addresses and prefixes are left out.
func Plan(named []netip.Prefix, vips []netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range named {
		if p.IsValid() {
			out = append(out, p.Masked())
		}
	}
	for _, a := range vips {
		a = a.Unmap()
		if !a.IsValid() || a.Zone() != "" || slices.ContainsFunc(named, func(p netip.Prefix) bool { return p.Contains(a) }) {
			continue
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// Kernel is the node's link and routes, as a Syncer needs them.
type Kernel interface {
	// EnsureLink makes LinkName exist, up and NOARP: a dummy link, or a
	// bridge without ports where the kernel has no dummy type. It reports
	// whether it changed anything; safe to call repeatedly.
	EnsureLink() (changed bool, err error)
	// Routes lists the routes of Protocol through LinkName, both families.
	Routes() ([]netip.Prefix, error)
	// AddRoute adds (or replaces) the route to p through LinkName.
	AddRoute(p netip.Prefix) error
	// DelRoute deletes the route to p through LinkName; a route already
	// gone is fine.
	DelRoute(p netip.Prefix) error
}

// Result says what a Syncer call did.
type Result struct {
	// Added and Deleted count the routes changed; LinkChanged is set when
	// the link was created or brought back up.
	Added, Deleted int
	LinkChanged    bool
	ReadBack       bool
}

// Changed reports whether r changed anything.
func (r Result) Changed() bool { return r.Added+r.Deleted > 0 || r.LinkChanged }

// Syncer keeps the routes of a node equal to a plan.
type Syncer struct {
	k Kernel
	// applied is the plan the kernel holds after the last successful
	// call; nil forces a read-back.
	applied []netip.Prefix
	known   bool
}

// NewSyncer returns a Syncer on k.
func NewSyncer(k Kernel) *Syncer { return &Syncer{k: k} }

// Apply makes the routes those of want, diffing against what it applied
// last (the first call, and the first after an error, read back instead).
func (s *Syncer) Apply(want []netip.Prefix) (Result, error) {
	if !s.known {
		return s.Reconcile(want)
	}
	return s.apply(Result{}, s.applied, want)
}

// Reconcile ensures the link, reads its routes back and repairs them.
func (s *Syncer) Reconcile(want []netip.Prefix) (Result, error) {
	s.known = false
	var r Result
	changed, err := s.k.EnsureLink()
	r.LinkChanged = changed
	if err != nil {
		return r, fmt.Errorf("vip routes: link %s: %w", LinkName, err)
	}
	have, err := s.k.Routes()
	if err != nil {
		return r, fmt.Errorf("vip routes: list routes of %s: %w", LinkName, err)
	}
	r.ReadBack = true
	return s.apply(r, have, want)
}

func (s *Syncer) apply(r Result, have, want []netip.Prefix) (Result, error) {
	add, del := Diff(have, want)
	var errs []error
	for _, p := range add {
		if err := s.k.AddRoute(p); err != nil {
			errs = append(errs, fmt.Errorf("add route %s dev %s: %w", p, LinkName, err))
			continue
		}
		r.Added++
	}
	for _, p := range del {
		if err := s.k.DelRoute(p); err != nil {
			errs = append(errs, fmt.Errorf("delete route %s dev %s: %w", p, LinkName, err))
			continue
		}
		r.Deleted++
	}
	if err := errors.Join(errs...); err != nil {
		s.known = false
		return r, err
	}
	s.applied, s.known = slices.Clone(want), true
	return r, nil
}

// Diff returns the routes of want missing from have and those of have
// not in want, each sorted.
func Diff(have, want []netip.Prefix) (add, del []netip.Prefix) {
	h := make(map[netip.Prefix]bool, len(have))
	for _, p := range have {
		h[p.Masked()] = true
	}
	w := make(map[netip.Prefix]bool, len(want))
	for _, p := range want {
		w[p.Masked()] = true
		if !h[p.Masked()] {
			add = append(add, p.Masked())
		}
	}
	for p := range h {
		if !w[p] {
			del = append(del, p)
		}
	}
	slices.SortFunc(add, comparePrefix)
	slices.SortFunc(del, comparePrefix)
	return slices.Compact(add), del
}
