package daemon

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vip"
)

// AllocKey names one named VIP address: a DNS name in one family.
type AllocKey struct {
	Family dataplane.Family
	Name   string
}

// String renders k as its store key suffix: ip/web.marathon.l4lb.thisdcos.directory.
func (k AllocKey) String() string { return k.Family.String() + "/" + k.Name }

// Service is one VIP in one family as the node programs it.
type Service struct {
	Key  vip.Key
	VIP  vip.VIP
	Addr netip.Addr
	// Backends are the backends programmed: alive ones, or all when none
	// is alive (fail open).
	Backends []vip.Backend
	// All are every backend the records list, alive or not.
	All []vip.Backend
	// Held is set on a VIP kept as it was after every backend vanished
	// with its node's liveness (fail open, see holder).
	Held bool
	// Rejecting is set on a VIP without backends kept for a grace period
	// after its last backend went, to refuse new connections (see
	// rejecter).
	Rejecting bool
}

// Input is everything Desired decides from.
type Input struct {
	Endpoints []cluster.Endpoint
	// Alive holds the names of nodes with a liveness key.
	Alive map[string]bool
	// Addrs holds the allocated named VIP addresses.
	Addrs map[AllocKey]netip.Addr
	// Bindings are backends from other sources (Mesos agents), merged
	// with those of the endpoint records.
	Bindings []vip.Binding
	// Records are more backends, one slice per decoded record (the
	// daemon's records caches), read and not modified.
	Records [][]vip.Binding
}

// Desired computes the node's services from in: the VIPs of the endpoint
// records' labels and of in.Bindings, a backend address given twice for a
// VIP merged into one (see mergeBackends). Named VIPs without an
// address in in.Addrs are returned in missing (sorted) and left out of the
// services. Label errors are returned, one per bad label.
func Desired(in Input) (services []Service, missing []AllocKey, errs []error) {
	type group struct {
		v  vip.VIP
		bs []vip.Backend
	}
	groups := map[svcID]*group{}
	add := func(bs []vip.Binding) {
		for _, b := range bs {
			fam := familyOf(b.Backend.IP)
			if !b.VIP.IsNamed() && familyOf(b.VIP.IP) != fam {
				continue // an IP VIP only takes backends of its family
			}
			id := svcID{key: b.VIP.Key(), fam: fam}
			g := groups[id]
			if g == nil {
				g = &group{v: b.VIP}
				groups[id] = g
			}
			g.bs = append(g.bs, b.Backend)
		}
	}
	add(in.Bindings)
	for _, bs := range in.Records {
		add(bs)
	}
	for _, ep := range in.Endpoints {
		bs, es := vip.FromEndpoint(ep)
		errs = append(errs, es...)
		add(bs)
	}
	need := map[AllocKey]bool{}
	for id, g := range groups {
		s := Service{Key: id.key, VIP: g.v, All: mergeBackends(g.bs)}
		s.Backends = aliveOrAll(s.All, in.Alive)
		if id.key.IsNamed() {
			ak := AllocKey{Family: id.fam, Name: id.key.Name}
			a, ok := in.Addrs[ak]
			if !ok {
				need[ak] = true
				continue
			}
			s.Addr = a
		} else {
			s.Addr = id.key.IP
		}
		services = append(services, s)
	}
	// Sorted by address, protocol and port; on a tie (an IP VIP whose
	// address is also a named VIP's) the IP VIP first, then by name, so the
	// same input always programs the same one (Build keeps the first).
	slices.SortFunc(services, func(a, b Service) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Key.Protocol, b.Key.Protocol), cmp.Compare(a.Key.Port, b.Key.Port),
			cmp.Compare(a.Key.Name, b.Key.Name))
	})
	for k := range need {
		missing = append(missing, k)
	}
	slices.SortFunc(missing, func(a, b AllocKey) int { return cmp.Compare(a.String(), b.String()) })
	return services, missing, errs
}

// Plan turns services into dataplane services for node self: a backend
// of self with a Local address is programmed there instead (see
// vip.Backend.Local).
func Plan(services []Service, self string) []dataplane.Service {
	out := make([]dataplane.Service, 0, len(services))
	for _, s := range services {
		bs := s.Backends
		cloned := false
		for i, b := range s.Backends {
			if !b.Local.IsValid() || b.Node != self || familyOf(b.Local.Addr()) != familyOf(b.IP) {
				continue
			}
			if !cloned {
				bs, cloned = slices.Clone(s.Backends), true
			}
			bs[i].IP, bs[i].Port = b.Local.Addr(), b.Local.Port()
		}
		out = append(out, dataplane.Service{Key: s.Key, Addr: s.Addr, Backends: bs})
	}
	return out
}

type svcID struct {
	key vip.Key
	fam dataplane.Family
}

// aliveOrAll keeps the backends on alive nodes (a backend without a node
// counts as alive), or all of them when none is.
func aliveOrAll(bs []vip.Backend, alive map[string]bool) []vip.Backend {
	up := func(b vip.Backend) bool { return b.Node == "" || alive[b.Node] }
	if !slices.ContainsFunc(bs, func(b vip.Backend) bool { return !up(b) }) {
		return bs // all alive: share the slice (the common case)
	}
	var out []vip.Backend
	for _, b := range bs {
		if b.Node == "" || alive[b.Node] {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return bs
	}
	return out
}

// mergeBackends sorts bs by address and merges the backends that two
// sources (an endpoint record and a Mesos task) give for one address: the
// first node and task win, and the merged backend drains when either says
// so (unhealthy or draining).
func mergeBackends(bs []vip.Backend) []vip.Backend {
	slices.SortFunc(bs, func(a, b vip.Backend) int {
		return cmp.Or(a.AddrPort().Compare(b.AddrPort()), cmp.Compare(a.Node, b.Node), cmp.Compare(a.Task, b.Task))
	})
	out := bs[:0]
	for _, b := range bs {
		if n := len(out); n > 0 && out[n-1].AddrPort() == b.AddrPort() {
			out[n-1].Healthy = out[n-1].Healthy && b.Healthy
			out[n-1].Draining = out[n-1].Draining || b.Draining
			if !out[n-1].Local.IsValid() {
				out[n-1].Local = b.Local
			}
			continue
		}
		out = append(out, b)
	}
	return out
}

func familyOf(a netip.Addr) dataplane.Family {
	if a.Unmap().Is4() {
		return dataplane.IPv4
	}
	return dataplane.IPv6
}
