package portmap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

var _ Kernel = (*Fake)(nil)

// Fake is an in-memory Kernel with the real one's batch semantics; String
// prints its state for tests to compare.
type Fake struct {
	// Present is false until the first Rebuild (no tables).
	Present bool
	// Broken makes Intact report damage (a test of the rebuild path).
	Broken bool
	// FailApply, when set, fails the next Apply or Rebuild with it.
	FailApply error

	chains   map[string]ChainSpec
	elems    map[string]Element
	localnet []string
	// Calls counts kernel calls by method, for tests of how much an ADD costs.
	Calls map[string]int
}

// NewFake returns a Fake without tables.
func NewFake() *Fake {
	return &Fake{chains: map[string]ChainSpec{}, elems: map[string]Element{}, Calls: map[string]int{}}
}

// Intact implements Kernel.
func (f *Fake) Intact(chains []ChainSpec) (bool, error) {
	f.Calls["Intact"]++
	if !f.Present || f.Broken {
		return false, nil
	}
	for _, c := range chains {
		if have, ok := f.chains[c.Name]; !ok || !have.Equal(c) {
			return false, nil
		}
	}
	return true, nil
}

// Rebuild implements Kernel.
func (f *Fake) Rebuild(chains []ChainSpec, elems []Element) error {
	f.Calls["Rebuild"]++
	if err := f.takeFailure(); err != nil {
		return err
	}
	f.Present, f.Broken = true, false
	f.chains, f.elems = map[string]ChainSpec{}, map[string]Element{}
	for _, c := range chains {
		f.chains[c.Name] = c
	}
	for _, e := range elems {
		f.elems[e.Key()] = e
	}
	return nil
}

// Apply implements Kernel.
func (f *Fake) Apply(c Changes) error {
	f.Calls["Apply"]++
	if err := f.takeFailure(); err != nil {
		return err
	}
	if !f.Present {
		return errors.New("fake: no table dcnet-portmap")
	}
	elems := make(map[string]Element, len(f.elems))
	for k, v := range f.elems {
		elems[k] = v
	}
	for _, e := range c.Del {
		if _, ok := elems[e.Key()]; !ok {
			return fmt.Errorf("fake: delete element %s: no such element", e.Key())
		}
		delete(elems, e.Key())
	}
	for _, e := range c.Add {
		if have, ok := elems[e.Key()]; ok && (have.Chain != e.Chain || have.Target != e.Target) {
			return fmt.Errorf("fake: add element %s: exists with other data", e.Key())
		}
		elems[e.Key()] = e
	}
	for _, e := range elems {
		if _, ok := f.chains[e.Chain]; !ok && !slices.ContainsFunc(c.Chains, func(s ChainSpec) bool { return s.Name == e.Chain }) {
			return fmt.Errorf("fake: element %s jumps to missing chain %s", e.Key(), e.Chain)
		}
	}
	for _, s := range c.Chains {
		f.chains[s.Name] = s
	}
	for _, n := range c.DelChains {
		for _, e := range elems {
			if e.Chain == n {
				return fmt.Errorf("fake: delete chain %s: element %s jumps to it", n, e.Key())
			}
		}
		delete(f.chains, n)
	}
	f.elems = elems
	return nil
}

// Remove implements Kernel.
func (f *Fake) Remove() error {
	f.Calls["Remove"]++
	f.Present, f.Broken = false, false
	f.chains, f.elems = map[string]ChainSpec{}, map[string]Element{}
	return nil
}

// Elements implements Kernel.
func (f *Fake) Elements() ([]Element, error) {
	f.Calls["Elements"]++
	out := make([]Element, 0, len(f.elems))
	for _, e := range f.elems {
		out = append(out, e)
	}
	sortElements(out)
	return out, nil
}

// RouteLocalnet implements Kernel.
func (f *Fake) RouteLocalnet(addr string) error {
	if !slices.Contains(f.localnet, addr) {
		f.localnet = append(f.localnet, addr)
	}
	return nil
}

// DeleteElement removes one element behind the plugin's back (hand
// damage); it reports whether it was there.
func (f *Fake) DeleteElement(key string) bool {
	_, ok := f.elems[key]
	delete(f.elems, key)
	return ok
}

func (f *Fake) takeFailure() error {
	err := f.FailApply
	f.FailApply = nil
	return err
}

// String prints the state: "no tables", or one line per chain and per
// element, sorted.
func (f *Fake) String() string {
	if !f.Present {
		return "no tables\n"
	}
	var lines []string
	for _, c := range f.chains {
		line := "chain " + c.Name
		if len(c.Excludes) > 0 {
			line += " excludes " + strings.Join(c.Excludes, ",")
		}
		if c.Localhost {
			line += " localhost"
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	es := make([]Element, 0, len(f.elems))
	for _, e := range f.elems {
		es = append(es, e)
	}
	sortElements(es)
	for _, e := range es {
		lines = append(lines, e.String())
	}
	for _, a := range f.localnet {
		lines = append(lines, "route_localnet toward "+a)
	}
	return strings.Join(lines, "\n") + "\n"
}
