package dataplane

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

var _ Kernel = (*Fake)(nil)

// Fake is an in-memory Kernel. It checks batches as the kernel would (no
// duplicate or missing elements, no jump to a missing chain, no delete of
// a chain still jumped to) and applies them all or nothing. String prints
// its state.
type Fake struct {
	// Tables holds each family's table; a nil entry is a missing table.
	Tables [2]*FakeTable
	// Batches counts applied batches; Reads counts Read calls.
	Batches, Reads int
	// Last is the last batch applied.
	Last Batch
	// Fail, when set, is returned by every method.
	Fail error
}

// FakeTable is one family's table in a Fake. Tests may edit it, or clear
// Intact, to simulate hand damage.
type FakeTable struct {
	State
	Intact bool
}

// NewFake returns a Fake with no tables.
func NewFake() *Fake { return &Fake{} }

// Read implements Kernel.
func (f *Fake) Read(fam Family) (Current, error) {
	f.Reads++
	if f.Fail != nil {
		return Current{}, f.Fail
	}
	t := f.Tables[fam]
	if t == nil {
		return Current{State: NewState()}, nil
	}
	return Current{State: cloneState(t.State), Present: true, Intact: t.Intact}, nil
}

// Apply implements Kernel.
func (f *Fake) Apply(b Batch) error {
	if f.Fail != nil {
		return f.Fail
	}
	var s State
	switch t := f.Tables[b.Family]; {
	case b.Rebuild && b.DeleteTable != (t != nil):
		return fmt.Errorf("rebuild: delete table %t but table present %t", b.DeleteTable, t != nil)
	case b.Rebuild:
		s = NewState()
	case t == nil:
		return errors.New("table does not exist")
	default:
		s = cloneState(t.State)
	}
	if err := applyChanges(&s, b.Changes); err != nil {
		return err
	}
	f.Tables[b.Family] = &FakeTable{State: s, Intact: true}
	f.Batches++
	f.Last = b
	return nil
}

func applyChanges(s *State, c Changes) error {
	for _, k := range c.AddChains {
		if slices.Contains(s.Chains, k) {
			return fmt.Errorf("add chain %s: exists", ChainName(k))
		}
		s.Chains = append(s.Chains, k)
	}
	for _, e := range c.DelVIPs {
		if n, ok := s.VIPs[e.Key]; !ok || n != e.Slots {
			return fmt.Errorf("delete vips element %s: not there", e.Key)
		}
		delete(s.VIPs, e.Key)
	}
	for _, e := range c.DelBackends {
		if _, ok := s.Backends[e.Key]; !ok {
			return fmt.Errorf("delete backends element %s: not there", e.Key)
		}
		delete(s.Backends, e.Key)
	}
	for _, e := range c.AddBackends {
		if _, ok := s.Backends[e.Key]; ok {
			return fmt.Errorf("add backends element %s: exists", e.Key)
		}
		s.Backends[e.Key] = e.Backend
	}
	for _, e := range c.AddVIPs {
		if _, ok := s.VIPs[e.Key]; ok {
			return fmt.Errorf("add vips element %s: exists", e.Key)
		}
		if e.Slots > 0 && !slices.Contains(s.Chains, e.Slots) {
			return fmt.Errorf("add vips element %s: jump to missing chain %s", e.Key, ChainName(e.Slots))
		}
		s.VIPs[e.Key] = e.Slots
	}
	for _, k := range c.DelChains {
		i := slices.Index(s.Chains, k)
		if i < 0 {
			return fmt.Errorf("delete chain %s: not there", ChainName(k))
		}
		for key, n := range s.VIPs {
			if n == k {
				return fmt.Errorf("delete chain %s: in use by %s", ChainName(k), key)
			}
		}
		s.Chains = slices.Delete(s.Chains, i, i+1)
	}
	slices.Sort(s.Chains)
	return nil
}

func cloneState(s State) State {
	return State{Chains: slices.Clone(s.Chains), VIPs: maps.Clone(s.VIPs), Backends: maps.Clone(s.Backends)}
}

// String prints both tables, one object a line:
//
//	ip chain lb-3
//	ip vips 11.0.0.1 . tcp . 80 : jump lb-3
//	ip backends 11.0.0.1 . tcp . 80 . 0 : 9.0.1.2 . 80
func (f *Fake) String() string {
	var b strings.Builder
	for _, fam := range Families {
		t := f.Tables[fam]
		if t == nil {
			continue
		}
		fmt.Fprintf(&b, "%s table %s", fam, TableName)
		if !t.Intact {
			b.WriteString(" damaged")
		}
		b.WriteString("\n")
		for _, k := range t.Chains {
			fmt.Fprintf(&b, "%s chain %s\n", fam, ChainName(k))
		}
		for _, k := range sortedServiceKeys(t.VIPs) {
			fmt.Fprintf(&b, "%s vips %s : jump %s\n", fam, k, ChainName(t.VIPs[k]))
		}
		for _, k := range sortedSlotKeys(t.Backends) {
			fmt.Fprintf(&b, "%s backends %s : %s\n", fam, k, backendString(t.Backends[k]))
		}
	}
	return b.String()
}
