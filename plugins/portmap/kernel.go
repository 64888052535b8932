package portmap

// Kernel programs the dcnet-portmap tables of the namespace it runs in.
// NFTables is the netlink implementation; Fake prints its state as text.
type Kernel interface {
	// Intact reports whether both tables hold the fixed skeleton (base
	// chains with their hooks, priorities and rules, the maps and the VIP
	// set) and every chain of chains with its rules. It changes nothing.
	Intact(chains []ChainSpec) (bool, error)
	// Rebuild replaces both tables, in one transaction per family, with the
	// skeleton, chains and elems. Safe to call repeatedly.
	Rebuild(chains []ChainSpec, elems []Element) error
	// Apply commits c in one transaction per family: the chains are created
	// or their rules replaced, elements deleted, then added, then DelChains
	// deleted. Adding an
	// element that exists with the same data changes nothing; one that
	// exists with other data, or deleting one that is absent, fails the
	// whole batch.
	Apply(c Changes) error
	// Remove deletes both tables (the last mapping is gone); missing tables
	// are fine.
	Remove() error
	// Elements lists the elements of both tables. A missing table has none.
	Elements() ([]Element, error)
	// RouteLocalnet sets net.ipv4.conf.<dev>.route_localnet=1 on the
	// device the node reaches addr through, so that 127.0.0.1 can be
	// translated to addr; it changes only the namespace it runs in.
	RouteLocalnet(addr string) error
}
