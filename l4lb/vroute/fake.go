package vroute

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

var _ Kernel = (*Fake)(nil)

// Fake is an in-memory Kernel; String prints its state as ip does.
type Fake struct {
	mu     sync.Mutex
	Link   bool
	routes map[netip.Prefix]bool
	// Calls counts the changing calls (EnsureLink that changed, AddRoute,
	// DelRoute).
	Calls int
}

// NewFake returns a Fake without the link.
func NewFake() *Fake { return &Fake{routes: map[netip.Prefix]bool{}} }

// EnsureLink implements Kernel.
func (f *Fake) EnsureLink() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Link {
		return false, nil
	}
	f.Link = true
	f.Calls++
	return true, nil
}

// Routes implements Kernel.
func (f *Fake) Routes() ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Prefix
	for p := range f.routes {
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefix)
	return out, nil
}

// AddRoute implements Kernel.
func (f *Fake) AddRoute(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.Link {
		return fmt.Errorf("no link %s", LinkName)
	}
	f.routes[p] = true
	f.Calls++
	return nil
}

// DelRoute implements Kernel.
func (f *Fake) DelRoute(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.routes, p)
	f.Calls++
	return nil
}

// DeleteLink removes the link and its routes (hand damage).
func (f *Fake) DeleteLink() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Link = false
	clear(f.routes)
}

// String prints the state: "link minuteman" and one
// "<prefix> dev minuteman proto 220" line per route.
func (f *Fake) String() string {
	rs, _ := f.Routes()
	var b strings.Builder
	if f.Link {
		b.WriteString("link " + LinkName + "\n")
	}
	for _, p := range rs {
		fmt.Fprintf(&b, "%s dev %s proto %d\n", p, LinkName, Protocol)
	}
	return b.String()
}
