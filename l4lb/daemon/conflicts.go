package daemon

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/dcnet/dcnet/l4lb/vip"
)

// Conflict is an IP VIP that is not programmed because a named VIP holds
// its address.
type Conflict struct {
	Service
	// HeldBy is the DNS name of the named VIP that holds the address.
	HeldBy string
	// Since is when this node first refused the IP VIP.
	Since time.Time
}

// refuseHeld takes the IP VIPs whose address a named VIP holds (owners:
// address -> DNS name, every allocation in etcd, in use or not) out of
// services and returns them as conflicts, with the rest. An address has one
// holder: named VIPs claim theirs by compare-and-swap and the allocator
// never hands out an address an IP VIP uses, so an IP VIP that lands on a
// named VIP's address came later (or, within one propagation delay, at the
// same time: the name's claim in etcd decides) and must not take its
// traffic or, by shadowing it, its name.
func refuseHeld(services []Service, owners map[netip.Addr]string) (kept []Service, refused []Conflict) {
	kept = services[:0:0]
	for _, s := range services {
		if owner, held := owners[s.Addr]; held && !s.Key.IsNamed() {
			refused = append(refused, Conflict{Service: s, HeldBy: owner})
			continue
		}
		kept = append(kept, s)
	}
	return kept, refused
}

// conflictKey names one refused IP VIP.
type conflictKey struct {
	key  vip.Key
	addr netip.Addr
}

// conflicts remembers since when each IP VIP has been refused, so that a
// refusal is logged once and reported with its start.
type conflicts struct {
	since map[conflictKey]time.Time
}

func newConflicts() *conflicts { return &conflicts{since: map[conflictKey]time.Time{}} }

// track stamps refused with the time each was first refused, forgets the
// ones no longer refused and returns the new ones (to log), both sorted.
func (c *conflicts) track(refused []Conflict, now time.Time) (stamped, fresh []Conflict) {
	since := make(map[conflictKey]time.Time, len(refused))
	for _, r := range refused {
		k := conflictKey{r.Key, r.Addr}
		t, seen := c.since[k]
		if !seen {
			t = now
			fresh = append(fresh, r)
		}
		since[k] = t
		r.Since = t
		stamped = append(stamped, r)
	}
	c.since = since
	byVIP := func(a, b Conflict) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Key.Protocol, b.Key.Protocol), cmp.Compare(a.Key.Port, b.Key.Port))
	}
	slices.SortFunc(stamped, byVIP)
	slices.SortFunc(fresh, byVIP)
	return stamped, fresh
}
