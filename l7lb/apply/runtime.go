package apply

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/render"
)

// slotOps are the runtime commands that turn slot cur into want.
func slotOps(be string, i int, cur, want render.Slot) []haproxy.Op {
	name := render.SlotName(i)
	state := func(s render.SlotState) haproxy.Op {
		if s == render.SlotDrain {
			return haproxy.SetServerState(be, name, haproxy.StateDrain)
		}
		return haproxy.SetServerState(be, name, haproxy.StateReady)
	}
	switch {
	case want.Key == "":
		if cur.State != render.SlotFree {
			return []haproxy.Op{haproxy.SetServerState(be, name, haproxy.StateMaint)}
		}
		return nil
	case cur.State == render.SlotFree || cur.Addr != want.Addr:
		// Address and weight first: the slot takes traffic only once it
		// points at the new server.
		return []haproxy.Op{
			haproxy.SetServerAddr(be, name, want.Addr),
			haproxy.SetServerWeight(be, name, want.Weight),
			state(want.State),
		}
	}
	var ops []haproxy.Op
	// A draining slot rendered in the file has weight 0 and state ready:
	// leaving drain always sets the weight too.
	if want.Weight != cur.Weight || (want.State == render.SlotReady && cur.State == render.SlotDrain) {
		ops = append(ops, haproxy.SetServerWeight(be, name, want.Weight))
	}
	if want.State != cur.State {
		ops = append(ops, state(want.State))
	}
	return ops
}

// pendingSlot is the runtime change of one slot.
type pendingSlot struct {
	backend string
	index   int
	want    render.Slot
	first   int // index of its first op in the batch
	n       int
}

// syncRuntime sends every change the loaded configuration allows: server
// slots, map entries (routes to loaded backends), certificate contents.
// It returns the commands sent.
func (a *Applier) syncRuntime(ctx context.Context) (int, error) {
	if a.loaded == nil {
		return 0, nil
	}
	var ops []haproxy.Op
	var slots []pendingSlot
	for _, b := range a.cfg.Backends {
		w := a.want[b.Name]
		live := a.live.slots[b.Name]
		if w == nil || live == nil {
			continue // not loaded yet: the reload brings it
		}
		for i := 0; i < len(live) && i < len(w.slots); i++ {
			o := slotOps(b.Name, i, live[i], w.slots[i])
			if len(o) == 0 {
				continue
			}
			slots = append(slots, pendingSlot{backend: b.Name, index: i, want: w.slots[i], first: len(ops), n: len(o)})
			ops = append(ops, o...)
		}
	}
	// Backends gone from the config keep their servers until the reload;
	// their routes leave the maps below.
	sent := 0
	var errs []error
	if len(ops) > 0 {
		res, err := a.rt.Batch(ctx, ops)
		sent += len(ops)
		a.metrics.runtimeCommands += uint64(len(ops))
		failed := false
		for _, p := range slots {
			if e := errors.Join(res[p.first : p.first+p.n]...); e != nil {
				failed = true
				a.setProblem("server", p.backend+"/"+render.SlotName(p.index), "runtime update of %s failed: %v", p.want.Key, e)
				errs = append(errs, e)
				continue
			}
			a.clearProblem("server", p.backend+"/"+render.SlotName(p.index))
			a.live.slots[p.backend][p.index] = p.want
		}
		if failed || err != nil {
			a.metrics.runtimeFailures++
			errs = append(errs, err)
			errs = append(errs, a.resyncSlots(ctx))
		}
	}
	n, err := a.syncMaps(ctx)
	sent += n
	errs = append(errs, err)
	n, err = a.syncCerts(ctx)
	sent += n
	errs = append(errs, err)
	if sent > 0 {
		// Written by the next Maintain, off the path of the change: until
		// then a.file says what the files hold, and a restart meanwhile
		// gets the difference sent again.
		a.fileDirty = true
	}
	return sent, errors.Join(errs...)
}

// resyncSlots reads the servers back from HAProxy after a failed batch, so
// the next round sends what is still missing.
func (a *Applier) resyncSlots(ctx context.Context) error {
	st, err := a.rt.ShowServersState(ctx)
	if err != nil {
		// Unknown state: assume nothing, every slot is sent again.
		for be, live := range a.live.slots {
			for i := range live {
				live[i] = render.Slot{State: render.SlotFree, Weight: -1}
			}
			a.live.slots[be] = live
		}
		return fmt.Errorf("read servers back: %w", err)
	}
	for _, s := range st {
		live := a.live.slots[s.Backend]
		var i int
		if _, err := fmt.Sscanf(s.Server, "s%d", &i); err != nil || i < 1 || i > len(live) {
			continue
		}
		cur := &live[i-1]
		switch {
		case s.Maint():
			*cur = render.Slot{}
		case s.Drain() || s.Weight == 0:
			cur.State = render.SlotDrain
		default:
			cur.State = render.SlotReady
			cur.Weight = s.Weight
		}
		if cur.State != render.SlotFree {
			cur.Addr = parseAddr(s.Addr, s.Port)
		}
	}
	return nil
}

// syncMaps replaces every map whose wanted entries (routes to loaded
// backends) differ from HAProxy's: prepare, add, commit.
func (a *Applier) syncMaps(ctx context.Context) (int, error) {
	type change struct {
		fe, path string
		entries  []render.MapEntry
	}
	var changes []change
	loaded := map[string]bool{}
	for be := range a.loaded.capacity {
		loaded[be] = true
	}
	for _, f := range a.cfg.Frontends {
		path, ok := a.loaded.mapPaths[f.Name]
		if !ok {
			continue
		}
		var es []render.MapEntry
		for _, e := range render.MapEntries(f) {
			if loaded[e.Backend] {
				es = append(es, e)
			}
		}
		if !slices.Equal(es, a.live.maps[f.Name]) {
			changes = append(changes, change{f.Name, path, es})
		}
	}
	if len(changes) == 0 {
		return 0, nil
	}
	prep := make([]haproxy.Op, len(changes))
	for i, c := range changes {
		prep[i] = haproxy.PrepareMap(c.path)
	}
	sent := len(prep)
	replies, err := a.h.Exec(ctx, opCommands(prep))
	if err != nil {
		a.metrics.runtimeFailures++
		return sent, fmt.Errorf("prepare maps: %w", err)
	}
	var ops []haproxy.Op
	var errs []error
	var done []change
	for i, c := range changes {
		ver, perr := haproxy.ParsePrepared(replies[i])
		if perr != nil {
			errs = append(errs, fmt.Errorf("map %s: %w", c.path, perr))
			continue
		}
		ops = append(ops, haproxy.AddMapEntries(c.path, ver, toHAEntries(c.entries))...)
		ops = append(ops, haproxy.CommitMap(c.path, ver))
		done = append(done, c)
	}
	res, err := a.rt.Batch(ctx, ops)
	sent += len(ops)
	a.metrics.runtimeCommands += uint64(sent)
	if e := errors.Join(append(res, err)...); e != nil {
		a.metrics.runtimeFailures++
		// Which map failed is unknown: forget them all, the next round
		// sends them again.
		for _, c := range changes {
			delete(a.live.maps, c.fe)
			a.setProblem("frontend", c.fe, "routing map update failed: %v", e)
		}
		return sent, errors.Join(append(errs, e)...)
	}
	for _, c := range done {
		a.live.maps[c.fe] = c.entries
		a.clearProblem("frontend", c.fe)
	}
	return sent, errors.Join(errs...)
}

func toHAEntries(es []render.MapEntry) []haproxy.MapEntry {
	out := make([]haproxy.MapEntry, len(es))
	for i, e := range es {
		out[i] = haproxy.MapEntry{Key: e.Key, Value: e.Backend}
	}
	return out
}

func opCommands(ops []haproxy.Op) []haproxy.Command {
	cmds := make([]haproxy.Command, len(ops))
	for i, op := range ops {
		cmds[i] = op.Cmd
	}
	return cmds
}

// finishDrains frees the slots of servers that left once their sessions
// ended or the drain bound passed. It reports whether any was freed.
func (a *Applier) finishDrains(ctx context.Context, now time.Time) (bool, error) {
	var backends []string
	for name, w := range a.want {
		if len(w.leaving) > 0 && a.live.slots[name] != nil {
			backends = append(backends, name)
		}
	}
	if len(backends) == 0 {
		return false, nil
	}
	slices.Sort(backends)
	cmds := make([]haproxy.Command, len(backends))
	for i, be := range backends {
		cmds[i] = haproxy.Command{Line: fmt.Sprintf("show stat %s 4 -1", be)}
	}
	replies, err := a.h.Exec(ctx, cmds)
	freed := false
	for i, be := range backends {
		sessions := map[string]int{}
		if i < len(replies) {
			if rows, perr := haproxy.ParseStat(replies[i]); perr == nil {
				for _, r := range rows {
					sessions[r["svname"]] = r.Int("scur") + r.Int("qcur")
				}
			}
		}
		w := a.want[be]
		for idx, since := range w.leaving {
			n, known := sessions[render.SlotName(idx)]
			if (known && n == 0) || now.Sub(since) >= a.opts.DrainTimeout {
				w.free(idx)
				freed = true
			}
		}
	}
	return freed, err
}

// parseAddr builds an address from show servers state's columns.
func parseAddr(ip string, port int) netip.AddrPort {
	addr, err := netip.ParseAddr(ip)
	if err != nil || port < 0 || port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr, uint16(port))
}
