package dataplane

import "fmt"

// Kernel is the node's nftables, as Sync needs it.
type Kernel interface {
	// Read returns the family's dcnet-l4lb table as it is: whether it
	// exists, whether its fixed skeleton (base chains and their hooks,
	// maps, the rule of every chain) is intact, and the lb-K chains and map
	// elements it holds. It changes nothing and is safe to call any time.
	Read(f Family) (Current, error)
	// Apply commits b in one transaction: either all of it takes effect or
	// none of it does.
	Apply(b Batch) error
}

// Current is a family's table as Read found it.
type Current struct {
	State
	// Present is false when the table does not exist.
	Present bool
	// Intact is false when the skeleton differs from the wanted one; the
	// table must then be rebuilt. A missing table is not intact.
	Intact bool
}

// Batch is one atomic change of one family's table.
type Batch struct {
	Family Family
	// Rebuild makes the batch delete the table first if DeleteTable is set,
	// then create the skeleton, before applying Changes.
	Rebuild     bool
	DeleteTable bool
	Changes     Changes
}

// Result says what Sync did to one family.
type Result struct {
	Family  Family
	Rebuilt bool
	Changes int
}

// Sync makes the kernel's tables those of p: for each family it reads the
// table back, rebuilds it in one batch when missing or damaged, or else
// applies the element differences in one batch. The same plan synced twice
// sends nothing the second time. It returns what it did per family and
// stops at the first error.
func Sync(k Kernel, p Plan) ([]Result, error) {
	var out []Result
	for _, f := range Families {
		cur, err := k.Read(f)
		if err != nil {
			return out, fmt.Errorf("read %s %s: %w", f, TableName, err)
		}
		b := Batch{Family: f}
		if cur.Present && cur.Intact {
			b.Changes = Diff(p.Tables[f], cur.State)
			if b.Changes.Empty() {
				out = append(out, Result{Family: f})
				continue
			}
		} else {
			b.Rebuild, b.DeleteTable = true, cur.Present
			b.Changes = Diff(p.Tables[f], NewState())
		}
		if err := k.Apply(b); err != nil {
			return out, fmt.Errorf("apply %s %s (%d changes, rebuild %t): %w", f, TableName, b.Changes.Count(), b.Rebuild, err)
		}
		out = append(out, Result{Family: f, Rebuilt: b.Rebuild, Changes: b.Changes.Count()})
	}
	return out, nil
}
