package datapath

import (
	"bytes"
	"fmt"
	"slices"
)

// EnsureVTEP implements Kernel. Like the kernel, recreating the device for a
// changed VNI, port or local address drops its peer state.
func (f *Fake) EnsureVTEP(v VTEP) (bool, error) {
	if f.Fail != nil {
		return false, f.Fail
	}
	if err := v.Validate(); err != nil {
		return false, err
	}
	c := v
	c.MAC = slices.Clone(v.HardwareAddr())
	cur := f.VTEP
	switch {
	case cur == nil || cur.Name != v.Name:
		f.Peers = PeerState{}
	case cur.VNI != v.VNI || cur.Port != v.Port || cur.Local != v.Local:
		f.Peers = PeerState{}
		f.Recreated++
	case bytes.Equal(cur.MAC, c.MAC) && cur.IP == v.IP && cur.IP6 == v.IP6 && (v.MTU == 0 || cur.MTU == v.MTU) && cur.NoTrack == v.NoTrack:
		return false, nil
	}
	if v.MTU == 0 && cur != nil {
		c.MTU = cur.MTU
	}
	f.VTEP = &c
	return true, nil
}

// EnsurePeers implements Kernel: it diffs its state against want and
// applies the writes with the kernel's replace semantics.
func (f *Fake) EnsurePeers(v VTEP, want PeerState) (int, error) {
	if f.Fail != nil {
		return 0, f.Fail
	}
	if f.VTEP == nil || f.VTEP.Name != v.Name {
		return 0, fmt.Errorf("read peers of %s: %w", v.Name, ErrNoVTEP)
	}
	var n int
	f.Peers, n = applyChanges(f.Peers, DiffPeers(f.Peers, want))
	return n, nil
}

// ApplyPeerChanges implements Kernel.
func (f *Fake) ApplyPeerChanges(v VTEP, c PeerChanges) (int, error) {
	if f.Fail != nil {
		return 0, f.Fail
	}
	if f.VTEP == nil || f.VTEP.Name != v.Name {
		return 0, fmt.Errorf("apply peers to %s: %w", v.Name, ErrNoVTEP)
	}
	var n int
	f.Peers, n = applyChanges(f.Peers, c)
	return n, nil
}

// applyChanges applies c to s as the kernel would and returns the new state
// and the number of writes that changed something: a set replaces the entry
// of the same key (neighbour: IP; FDB: MAC, its first destination; route:
// destination and metric) or adds one; a delete removes an exact entry and
// is a no-op when it is gone.
func applyChanges(s PeerState, c PeerChanges) (PeerState, int) {
	n := 0
	out := PeerState{
		Neighs: slices.Clone(s.Neighs),
		FDB:    slices.Clone(s.FDB),
		Routes: slices.Clone(s.Routes),
	}
	for _, w := range c.SetFDB {
		if i := slices.IndexFunc(out.FDB, func(e FDBEntry) bool { return bytes.Equal(e.MAC, w.MAC) }); i >= 0 {
			out.FDB[i] = w
		} else {
			out.FDB = append(out.FDB, w)
		}
		n++
	}
	for _, w := range c.SetNeighs {
		if i := slices.IndexFunc(out.Neighs, func(e Neigh) bool { return e.IP == w.IP }); i >= 0 {
			out.Neighs[i] = w
		} else {
			out.Neighs = append(out.Neighs, w)
		}
		n++
	}
	for _, w := range c.SetRoutes {
		if i := slices.IndexFunc(out.Routes, func(e Route) bool { return e.Dst == w.Dst && e.Metric == w.Metric }); i >= 0 {
			out.Routes[i] = w
		} else {
			out.Routes = append(out.Routes, w)
		}
		n++
	}
	for _, d := range c.DelRoutes {
		if i := slices.Index(out.Routes, d); i >= 0 {
			out.Routes = slices.Delete(out.Routes, i, i+1)
			n++
		}
	}
	for _, d := range c.DelNeighs {
		if i := slices.IndexFunc(out.Neighs, func(e Neigh) bool { return e.IP == d.IP }); i >= 0 {
			out.Neighs = slices.Delete(out.Neighs, i, i+1)
			n++
		}
	}
	for _, d := range c.DelFDB {
		if i := slices.IndexFunc(out.FDB, func(e FDBEntry) bool { return bytes.Equal(e.MAC, d.MAC) && e.Dst == d.Dst }); i >= 0 {
			out.FDB = slices.Delete(out.FDB, i, i+1)
			n++
		}
	}
	out.sort()
	return out, n
}
