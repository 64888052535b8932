package daemon

import (
	"net/netip"
	"time"
)

// DefaultRejectGrace is how long a VIP whose last backend went keeps
// refusing new connections before it is withdrawn (Options.RejectGrace).
const DefaultRejectGrace = 15 * time.Minute

// rejecter keeps a VIP programmed without backends for a grace period
// after its last backend went (the records that declared it are gone while
// their nodes stay alive: the containers were removed), so that its new
// connections are refused at once (novip: TCP reset, ICMP port
// unreachable) instead of following the node's routes into a timeout. A
// named VIP is kept only while its address is still allocated: its release
// (Options.ReleaseGrace) withdraws it, as the address may go to another
// name. A VIP that gets a backend again is simply programmed again.
type rejecter struct {
	grace time.Duration // <= 0: never withdraw
	// prev are the services of the last call (with and without backends).
	prev  []Service
	since map[holdKey]time.Time
}

func newRejecter(grace time.Duration) *rejecter {
	return &rejecter{grace: grace, since: map[holdKey]time.Time{}}
}

// apply returns services plus, without backends, the previously returned
// services that are gone now (for at most r.grace since they went, a named
// one while addrs still gives it its address); it returns how many it
// added.
func (r *rejecter) apply(services []Service, addrs map[AllocKey]netip.Addr, now time.Time) ([]Service, int) {
	cur := make(map[holdKey]bool, len(services))
	for _, s := range services {
		cur[holdKey{s.Key, s.Addr}] = true
	}
	since := map[holdKey]time.Time{}
	added := 0
	for _, p := range r.prev {
		k := holdKey{p.Key, p.Addr}
		if cur[k] {
			continue
		}
		if p.Key.IsNamed() && addrs[AllocKey{Family: familyOf(p.Addr), Name: p.Key.Name}] != p.Addr {
			continue // released: the address is no longer the name's
		}
		t, ok := r.since[k]
		if !ok {
			t = now
		}
		if r.grace > 0 && now.Sub(t) > r.grace {
			continue
		}
		since[k] = t
		services = append(services, Service{Key: p.Key, VIP: p.VIP, Addr: p.Addr, Rejecting: true})
		cur[k] = true
		added++
	}
	r.since, r.prev = since, services
	return services, added
}
