package dataplane

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

// Result says what Sync, Syncer.Apply or Syncer.Reconcile did to one
// family.
type Result struct {
	Family  Family
	Rebuilt bool
	// Changes counts the chain and element operations of the batch; 0
	// means nothing was sent.
	Changes int
	// ReadBack is true when the table was read back from the kernel.
	ReadBack bool
	// StaleFlows counts the conntrack entries deleted (Syncer with a
	// Conntrack only; reported in the first family's Result).
	StaleFlows int
	// ConntrackErr is why deleting stale conntrack entries failed; the
	// tables are applied regardless and the deletion is retried by the
	// Syncer's next call.
	ConntrackErr error
}

// Sync makes the kernel's tables those of p: for each family it reads the
// table back, rebuilds it in one batch when missing or damaged, or else
// applies the element differences in one batch. The same plan synced twice
// sends nothing the second time. It returns what it did per family and
// stops at the first error. It is NewSyncer(k, nil).Reconcile(p): a
// long-lived caller should keep a Syncer and use Apply for changes.
func Sync(k Kernel, p Plan) ([]Result, error) {
	return NewSyncer(k, nil).Reconcile(p)
}
