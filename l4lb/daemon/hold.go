package daemon

import (
	"net/netip"
	"time"

	"github.com/dcnet/dcnet/l4lb/vip"
)

// DefaultFailOpenHold is how long a VIP whose backends all vanished with
// their nodes' liveness is kept programmed (Options.FailOpenHold).
const DefaultFailOpenHold = 15 * time.Minute

// holdKey names one programmed service.
type holdKey struct {
	key  vip.Key
	addr netip.Addr
}

// holder keeps VIPs programmed whose backends all disappeared because their
// nodes lost liveness. Endpoint and Mesos records live under their node's
// liveness lease, so when a node is cut off from etcd (or its overlayd
// crash-loops) its records vanish in the same revision as its liveness
// key: without the holder a VIP served only from that node would be
// emptied on every node, which is what fail open (REFERENCE: "unless all of
// a VIP's backends are unreachable") must prevent. A VIP that loses its
// backends while their nodes stay alive (a removed container) is not held.
type holder struct {
	hold  time.Duration // <= 0: never drop
	prev  []Service
	since map[holdKey]time.Time
}

func newHolder(hold time.Duration) *holder {
	return &holder{hold: hold, since: map[holdKey]time.Time{}}
}

// apply returns services plus the previously computed services that are
// gone now while every node of their backends has lost liveness, held for
// at most h.hold since they went; it returns how many it held.
func (h *holder) apply(services []Service, alive map[string]bool, now time.Time) ([]Service, int) {
	cur := make(map[holdKey]bool, len(services))
	for _, s := range services {
		cur[holdKey{s.Key, s.Addr}] = true
	}
	since := map[holdKey]time.Time{}
	held := 0
	for _, p := range h.prev {
		k := holdKey{p.Key, p.Addr}
		if cur[k] || len(p.All) == 0 || !allDown(p.All, alive) {
			continue
		}
		t, ok := h.since[k]
		if !ok {
			t = now
		}
		if h.hold > 0 && now.Sub(t) > h.hold {
			continue
		}
		since[k] = t
		p.Held = true
		services = append(services, p)
		held++
	}
	h.since, h.prev = since, services
	return services, held
}

func allDown(bs []vip.Backend, alive map[string]bool) bool {
	for _, b := range bs {
		if alive[b.Node] {
			return false
		}
	}
	return true
}
