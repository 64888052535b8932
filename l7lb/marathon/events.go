package marathon

import (
	"context"
	"fmt"
	"slices"
)

// apply folds a batch of stream messages into the apps; it reports
// whether a full read is needed (a stream (re)connected, an event that
// cannot be applied alone, too many apps to re-read one by one).
func (s *Source) apply(ctx context.Context, batch []streamMsg) (needList bool) {
	since := s.lastList.Load()
	refetch := map[string]bool{}
	changed := false
	s.mu.Lock()
	for _, m := range batch {
		if m.at < since {
			continue // already in the last full read
		}
		if m.attached {
			needList = true
			continue
		}
		if m.detached {
			continue
		}
		ev := m.event
		switch ev.EventType {
		case EventStatusUpdate:
			c, again := s.statusUpdate(ev)
			changed = changed || c
			if again {
				refetch[ev.AppID] = true
			}
		case EventHealthChanged:
			if ev.AppID != "" {
				refetch[ev.AppID] = true
			}
		case EventAPIPost:
			if ev.AppDefinition != nil && ev.AppDefinition.ID != "" {
				refetch[canonicalID(ev.AppDefinition.ID)] = true
			} else {
				needList = true // a group or bulk change: read everything
			}
		case EventAppTerminated:
			if _, ok := s.apps[ev.AppID]; ok {
				delete(s.apps, ev.AppID)
				changed = true
			}
		}
	}
	if changed {
		s.sorted = nil
	}
	s.mu.Unlock()
	if len(refetch) > maxRefetch {
		needList = true
	} else if !needList {
		for id := range refetch {
			c, err := s.refetch(ctx, id)
			if err != nil {
				s.tracker.Failed(errApp, err)
				s.log.Warn("marathon: reading an app failed, reading every app", "app", id, "err", err)
				needList = true
				break
			}
			changed = changed || c
		}
	}
	if changed {
		s.changed()
	}
	return needList
}

// canonicalID gives an app ID its leading '/'.
func canonicalID(id string) string {
	if id != "" && id[0] != '/' {
		return "/" + id
	}
	return id
}

// statusUpdate applies one task state change to its app (s.mu held).
// again is true when the app must be read (unknown app, or a new task
// the event does not describe fully).
func (s *Source) statusUpdate(ev Event) (changed, again bool) {
	a, ok := s.apps[ev.AppID]
	if !ok {
		return false, !terminal[ev.TaskStatus] && ev.AppID != ""
	}
	i := slices.IndexFunc(a.Tasks, func(t Task) bool { return t.ID == ev.TaskID })
	if terminal[ev.TaskStatus] {
		if i < 0 {
			return false, false
		}
		a.Tasks = slices.Delete(slices.Clone(a.Tasks), i, i+1)
		s.apps[a.ID] = a
		return true, false
	}
	var t Task
	if i >= 0 {
		t = a.Tasks[i]
	} else {
		t = Task{ID: ev.TaskID, AppID: ev.AppID}
	}
	t.State = ev.TaskStatus
	if ev.Host != "" && ev.Host != t.Host {
		t.Host, t.HostIP = ev.Host, hostLiteral(ev.Host)
	}
	if len(ev.Ports) > 0 {
		t.Ports = ev.Ports
	}
	if len(ev.IPAddresses) > 0 {
		t.IPAddresses = ev.IPAddresses
	}
	if ev.SlaveID != "" {
		t.SlaveID = ev.SlaveID
	}
	if ev.Version != "" {
		t.Version = ev.Version
	}
	if i < 0 && (!TaskIP(&a, &t).IsValid() || len(TaskPorts(&a, &t)) == 0) {
		// Not enough to serve it (no IP yet, or a host name to
		// resolve): the app's own answer says everything.
		return false, true
	}
	tasks := slices.Clone(a.Tasks)
	if i >= 0 {
		tasks[i] = t
	} else {
		tasks = append(tasks, t)
	}
	a.Tasks = tasks
	s.apps[a.ID] = a
	return true, false
}

// refetch reads one app again (or drops it when Marathon no longer has it).
func (s *Source) refetch(ctx context.Context, id string) (bool, error) {
	app, found, err := s.opts.Client.App(ctx, id)
	if err != nil {
		return false, fmt.Errorf("read app %s: %w", id, err)
	}
	if found {
		s.resolve(ctx, &app)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.apps[id]
	switch {
	case found:
		s.apps[app.ID] = app
	case had:
		delete(s.apps, id)
	default:
		return false, nil
	}
	s.sorted = nil
	return true, nil
}
