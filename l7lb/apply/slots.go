package apply

import (
	"time"

	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/render"
)

// DefaultSlotStep is how many server slots a backend grows by.
const DefaultSlotStep = 10

// backendSlots is the wanted slot assignment of one backend.
type backendSlots struct {
	slots []render.Slot
	// leaving holds, per slot index, when its key left the config: the
	// slot drains until its sessions end or the drain bound passes.
	leaving map[int]time.Time
}

// capacityFor is the slot count for used slots: whole steps with at least
// one step free.
func capacityFor(used, step int) int {
	return (used+step-1)/step*step + step
}

// assign places b's servers into the slots of prev (nil for a new
// backend): a key keeps its slot, a new key takes the lowest free one, a
// key that left drains in its slot (leaving since now). When the slots do
// not suffice they grow to capacityFor (a structural change). It returns
// the new assignment; prev is not modified.
func assign(prev *backendSlots, b model.Backend, step int, now time.Time) *backendSlots {
	next := &backendSlots{leaving: map[int]time.Time{}}
	if prev != nil {
		next.slots = append([]render.Slot(nil), prev.slots...)
		for i, t := range prev.leaving {
			next.leaving[i] = t
		}
	}
	want := make(map[string]model.Server, len(b.Servers))
	for _, s := range b.Servers {
		want[s.Key] = s
	}
	at := map[string]int{}
	for i, s := range next.slots {
		if s.Key == "" {
			continue
		}
		at[s.Key] = i
		if _, ok := want[s.Key]; !ok {
			// Gone from the config: drain in place.
			if _, already := next.leaving[i]; !already {
				next.leaving[i] = now
			}
			next.slots[i].State = render.SlotDrain
		}
	}
	var fresh []model.Server
	for _, s := range b.Servers {
		i, ok := at[s.Key]
		if !ok {
			fresh = append(fresh, s)
			continue
		}
		delete(next.leaving, i) // back before its drain ended
		next.slots[i] = slotOf(s)
	}
	used := 0
	for _, s := range next.slots {
		if s.Key != "" {
			used++
		}
	}
	if need := used + len(fresh); need > len(next.slots) || len(next.slots) == 0 {
		grown := make([]render.Slot, capacityFor(need, step))
		copy(grown, next.slots)
		next.slots = grown
	}
	i := 0
	for _, s := range fresh {
		for next.slots[i].Key != "" {
			i++
		}
		next.slots[i] = slotOf(s)
	}
	return next
}

func slotOf(s model.Server) render.Slot {
	st := render.SlotReady
	if s.Draining {
		st = render.SlotDrain
	}
	return render.Slot{Key: s.Key, Addr: s.Addr, Weight: s.Weight, State: st}
}

// free empties slot i.
func (b *backendSlots) free(i int) {
	b.slots[i] = render.Slot{}
	delete(b.leaving, i)
}

// freeLeaving empties every leaving slot (a reload: the new worker has no
// session on them) and shrinks the slots when more than two steps are
// free, keeping every key at its index.
func (b *backendSlots) freeLeaving(step int) {
	for i := range b.leaving {
		b.free(i)
	}
	last := -1
	used := 0
	for i, s := range b.slots {
		if s.Key != "" {
			last = i
			used++
		}
	}
	if len(b.slots)-used > 2*step {
		c := max(capacityFor(used, step), (last+step)/step*step)
		if c < len(b.slots) {
			b.slots = b.slots[:c]
		}
	}
}

// counts returns the used, draining and free slots.
func (b *backendSlots) counts() (used, draining, free int) {
	for _, s := range b.slots {
		switch {
		case s.Key == "":
			free++
		case s.State == render.SlotDrain:
			draining++
		default:
			used++
		}
	}
	return used, draining, free
}
