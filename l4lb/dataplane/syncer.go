package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
)

// Syncer applies plans to a Kernel and remembers, per family, the table
// state it last applied successfully, so that Apply sends only what changed
// since then without reading the kernel back: the cost of a change is one
// map lookup per planned element (the diff) plus its own elements on the
// wire, instead of a read-back of every VIP. Reconcile reads the kernel
// back and repairs it, as Sync does; call it on a slow timer to heal hand
// damage. A Syncer is not safe for concurrent use.
type Syncer struct {
	kernel    Kernel
	conntrack Conntrack
	// have is the state the kernel holds after the last successful batch
	// (or read-back): the last plan's table, kept by reference; nil means
	// unknown, and the next Apply reads back. haveSums are that plan's VIP
	// digests (nil when it had none).
	have     [2]*State
	haveSums [2][]vipDigest
	// absent is set for a family whose table a read found missing while
	// no VIP of it was wanted: Apply skips it until one is.
	absent [2]bool
	// pending are conntrack deletions that failed, retried next time.
	pending []UDPFlow
}

// NewSyncer returns a Syncer on k that knows nothing yet: its first Apply
// reads the tables back. When ct is not nil, the Syncer deletes the
// conntrack entries of UDP flows whose backend left their VIP (and of
// flows to a UDP VIP that was not translated before it got its first
// backend), so that the next datagram of a long-lived UDP socket picks a
// current backend; nil leaves conntrack alone.
func NewSyncer(k Kernel, ct Conntrack) *Syncer {
	return &Syncer{kernel: k, conntrack: ct}
}

// Apply makes the kernel's tables those of p by diffing p against the
// state this Syncer last applied, without reading the kernel back. The
// first Apply, and the first Apply of a family after an error, reads that
// family's table back and repairs it as Reconcile does. The same plan
// applied twice sends nothing the second time. It returns what it did per
// family and stops at the first kernel error; conntrack errors do not stop
// it (see Result.ConntrackErr).
func (s *Syncer) Apply(p Plan) ([]Result, error) { return s.sync(p, false) }

// Reconcile reads each family's table back and makes it that of p: a
// missing or damaged table is rebuilt in one batch, stray or missing
// elements are fixed in one batch. It costs a read of the whole table;
// Apply is the cheap path for changes.
func (s *Syncer) Reconcile(p Plan) ([]Result, error) { return s.sync(p, true) }

func (s *Syncer) sync(p Plan, readBack bool) ([]Result, error) {
	var out []Result
	var stale []UDPFlow
	var err error
	for _, f := range Families {
		var r Result
		var flows []UDPFlow
		r, flows, err = s.syncFamily(f, p, readBack)
		if err != nil {
			break
		}
		out = append(out, r)
		stale = append(stale, flows...)
	}
	s.deleteStale(out, stale, p)
	return out, err
}

// syncFamily brings one family's table to p's and returns the UDP flows
// whose conntrack entries went stale.
func (s *Syncer) syncFamily(f Family, p Plan, readBack bool) (Result, []UDPFlow, error) {
	want, wantSums := p.Tables[f], p.sums[f]
	r := Result{Family: f}
	b := Batch{Family: f}
	var base State
	var baseSums []vipDigest
	if !readBack && s.absent[f] && len(want.VIPs) == 0 {
		return r, nil, nil
	}
	s.absent[f] = false
	prev := s.have[f] // what this Syncer last applied, if known
	if readBack || s.have[f] == nil {
		s.have[f], s.haveSums[f] = nil, nil
		cur, err := s.kernel.Read(f)
		if err != nil {
			return r, nil, fmt.Errorf("read %s %s: %w", f, TableName, err)
		}
		r.ReadBack = true
		if !cur.Present && len(want.VIPs) == 0 {
			// No VIP of this family and no table: nothing to make (a
			// node without IPv6 never needs its ip6 table). have stays
			// unknown, so the first VIP of the family reads back and
			// builds the table.
			s.absent[f] = true
			return r, nil, nil
		}
		if cur.Present && cur.Intact {
			base = cur.State
		} else {
			// A rebuilt table starts empty: what it held is unknown, so
			// no conntrack entry is known to be stale.
			b.Rebuild, b.DeleteTable = true, cur.Present
			base = NewState()
		}
	} else {
		base, baseSums = *s.have[f], s.haveSums[f]
	}
	if wantSums != nil && baseSums != nil {
		b.Changes = diffDigests(want, wantSums, base, baseSums)
	} else {
		b.Changes = Diff(want, base)
	}
	var flows []UDPFlow
	switch {
	case s.conntrack == nil:
	case !b.Rebuild:
		flows = staleUDPFlows(want, base, b.Changes)
	default:
		// The table was missing or damaged: datagrams to a UDP VIP may
		// have made untranslated entries meanwhile, and backends this
		// Syncer had programmed may have left.
		flows = rebuildUDPFlows(want, prev)
	}
	if b.Rebuild || !b.Changes.Empty() {
		s.have[f], s.haveSums[f] = nil, nil // unknown until the batch is known to have committed
		if err := s.kernel.Apply(b); err != nil {
			return r, nil, fmt.Errorf("apply %s %s (%d changes, rebuild %t): %w", f, TableName, b.Changes.Count(), b.Rebuild, err)
		}
	}
	s.have[f], s.haveSums[f] = &want, wantSums
	r.Rebuilt, r.Changes = b.Rebuild, b.Changes.Count()
	return r, flows, nil
}

// diffDigests is Diff restricted to the VIPs whose digest differs between
// want and have, or that only one of them has; the lb-K chains are
// compared in full. Both digest lists are sorted by VIP, so finding the
// changed VIPs is one merge walk over two arrays.
func diffDigests(want State, wantSums []vipDigest, have State, haveSums []vipDigest) Changes {
	w := State{Chains: want.Chains, VIPs: map[ServiceKey]int{}, Backends: map[SlotKey]netip.AddrPort{}}
	h := State{Chains: have.Chains, VIPs: map[ServiceKey]int{}, Backends: map[SlotKey]netip.AddrPort{}}
	i, j := 0, 0
	for i < len(wantSums) || j < len(haveSums) {
		c := 0
		switch {
		case i == len(wantSums):
			c = 1
		case j == len(haveSums):
			c = -1
		default:
			c = compareServiceKey(wantSums[i].key, haveSums[j].key)
		}
		switch {
		case c < 0: // only wanted
			copyVIP(&w, want, wantSums[i].key)
			i++
		case c > 0: // only had
			copyVIP(&h, have, haveSums[j].key)
			j++
		default:
			if wantSums[i].sum != haveSums[j].sum {
				copyVIP(&w, want, wantSums[i].key)
				copyVIP(&h, have, haveSums[j].key)
			}
			i++
			j++
		}
	}
	return Diff(w, h)
}

// copyVIP copies VIP k and its slots from src into dst, if src has it.
func copyVIP(dst *State, src State, k ServiceKey) {
	n, ok := src.VIPs[k]
	if !ok {
		return
	}
	dst.VIPs[k] = n
	for i := range n {
		sk := SlotKey{ServiceKey: k, Slot: uint32(i)}
		if b, ok := src.Backends[sk]; ok {
			dst.Backends[sk] = b
		}
	}
}

// deleteStale deletes the conntrack entries of flows and of earlier
// failures, and records the outcome in the first result.
func (s *Syncer) deleteStale(out []Result, flows []UDPFlow, p Plan) {
	if s.conntrack == nil {
		return
	}
	// Retries first, without duplicates, and without flows whose backend
	// is back in its VIP's slots (deleting those would cut live flows).
	seen := map[UDPFlow]bool{}
	var all []UDPFlow
	for _, fl := range append(s.pending, flows...) {
		if seen[fl] || (fl.Backend != fl.VIP && backendIn(p, fl)) {
			continue
		}
		seen[fl] = true
		all = append(all, fl)
	}
	s.pending = nil
	if len(all) == 0 {
		return
	}
	n, err := s.conntrack.DeleteUDP(all)
	if err != nil {
		s.pending = all
	}
	if len(out) > 0 {
		out[0].StaleFlows, out[0].ConntrackErr = n, err
	}
}

// backendIn reports whether fl's backend has a slot of fl's VIP in p.
func backendIn(p Plan, fl UDPFlow) bool {
	k := ServiceKey{Addr: fl.VIP.Addr(), Proto: protoUDP, Port: fl.VIP.Port()}
	return slices.Contains(slotBackends(p.Tables[familyOf(k.Addr)], k), fl.Backend)
}

// rebuildUDPFlows lists, for a rebuilt table, the untranslated entries of
// every UDP VIP with backends and, when prev (the state last applied) is
// known, every backend that had a slot in prev and has none in want.
func rebuildUDPFlows(want State, prev *State) []UDPFlow {
	var flows []UDPFlow
	for _, k := range sortedServiceKeys(want.VIPs) {
		if k.Proto == protoUDP && want.VIPs[k] > 0 {
			v := netip.AddrPortFrom(k.Addr, k.Port)
			flows = append(flows, UDPFlow{VIP: v, Backend: v})
		}
	}
	if prev == nil {
		return flows
	}
	for _, k := range sortedServiceKeys(prev.VIPs) {
		if k.Proto != protoUDP {
			continue
		}
		now := slotBackends(want, k)
		for _, b := range slotBackends(*prev, k) {
			if !slices.Contains(now, b) {
				flows = append(flows, UDPFlow{VIP: netip.AddrPortFrom(k.Addr, k.Port), Backend: b})
			}
		}
	}
	return flows
}

// staleUDPFlows lists, for the UDP VIPs that c touches, every backend that
// had a slot in have and has none in want, and every UDP VIP that gets its
// first backend (its untranslated entries, whose reply source is the VIP
// itself).
func staleUDPFlows(want, have State, c Changes) []UDPFlow {
	touched := map[ServiceKey]bool{}
	for _, e := range c.DelBackends {
		if e.Key.Proto == protoUDP {
			touched[e.Key.ServiceKey] = true
		}
	}
	var flows []UDPFlow
	for _, e := range c.AddVIPs {
		if e.Key.Proto == protoUDP && e.Slots > 0 && have.VIPs[e.Key] == 0 {
			vip := netip.AddrPortFrom(e.Key.Addr, e.Key.Port)
			flows = append(flows, UDPFlow{VIP: vip, Backend: vip})
		}
	}
	for _, k := range sortedServiceKeys(touched) {
		now := slotBackends(want, k)
		for _, b := range slotBackends(have, k) {
			if !slices.Contains(now, b) {
				flows = append(flows, UDPFlow{VIP: netip.AddrPortFrom(k.Addr, k.Port), Backend: b})
			}
		}
	}
	return flows
}

// slotBackends lists the distinct backends of k's slots in s.
func slotBackends(s State, k ServiceKey) []netip.AddrPort {
	var out []netip.AddrPort
	for i := range s.VIPs[k] {
		if b, ok := s.Backends[SlotKey{ServiceKey: k, Slot: uint32(i)}]; ok && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}
