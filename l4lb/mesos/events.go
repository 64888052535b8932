package mesos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Event is one event of the master Operator API SUBSCRIBE stream (the
// RecordIO framing already removed).
type Event struct {
	Type       string `json:"type"`
	Subscribed *struct {
		GetState *GetState `json:"get_state,omitempty"`
	} `json:"subscribed,omitempty"`
	TaskAdded *struct {
		Task Task `json:"task"`
	} `json:"task_added,omitempty"`
	TaskUpdated *struct {
		FrameworkID Value      `json:"framework_id"`
		Status      TaskStatus `json:"status"`
		State       string     `json:"state"`
	} `json:"task_updated,omitempty"`
	FrameworkAdded   *frameworkEvent `json:"framework_added,omitempty"`
	FrameworkUpdated *frameworkEvent `json:"framework_updated,omitempty"`
	FrameworkRemoved *struct {
		FrameworkInfo FrameworkInfo `json:"framework_info"`
	} `json:"framework_removed,omitempty"`
	AgentAdded *struct {
		Agent Agent `json:"agent"`
	} `json:"agent_added,omitempty"`
	AgentRemoved *struct {
		AgentID Value `json:"agent_id"`
	} `json:"agent_removed,omitempty"`
}

type frameworkEvent struct {
	Framework Framework `json:"framework"`
}

// Apply folds one event into s, the way dcos-net's listener does: the
// latest task state wins, statuses accumulate, frameworks and agents are
// added, updated and removed. Unknown event types (HEARTBEAT) are ignored.
func (s *GetState) Apply(ev Event) error {
	switch {
	case ev.Type == "SUBSCRIBED" && ev.Subscribed != nil:
		*s = GetState{}
		if ev.Subscribed.GetState != nil {
			*s = *ev.Subscribed.GetState
		}
	case ev.Type == "TASK_ADDED" && ev.TaskAdded != nil:
		t := ev.TaskAdded.Task
		if i := s.taskIndex(t.FrameworkID.Value, t.TaskID.Value); i >= 0 {
			old := s.GetTasks.Tasks[i]
			t.Statuses = append(old.Statuses, t.Statuses...)
			s.GetTasks.Tasks[i] = t
		} else {
			s.GetTasks.Tasks = append(s.GetTasks.Tasks, t)
		}
	case ev.Type == "TASK_UPDATED" && ev.TaskUpdated != nil:
		u := ev.TaskUpdated
		i := s.taskIndex(u.FrameworkID.Value, u.Status.TaskID.Value)
		if i < 0 {
			s.GetTasks.Tasks = append(s.GetTasks.Tasks, Task{TaskID: u.Status.TaskID, FrameworkID: u.FrameworkID, AgentID: u.Status.AgentID})
			i = len(s.GetTasks.Tasks) - 1
		}
		t := &s.GetTasks.Tasks[i]
		t.State = u.State
		t.Statuses = append(t.Statuses, u.Status)
	case ev.Type == "FRAMEWORK_ADDED" && ev.FrameworkAdded != nil:
		s.putFramework(ev.FrameworkAdded.Framework)
	case ev.Type == "FRAMEWORK_UPDATED" && ev.FrameworkUpdated != nil:
		s.putFramework(ev.FrameworkUpdated.Framework)
	case ev.Type == "FRAMEWORK_REMOVED" && ev.FrameworkRemoved != nil:
		id := ev.FrameworkRemoved.FrameworkInfo.ID.Value
		s.GetFrameworks.Frameworks = slices.DeleteFunc(s.GetFrameworks.Frameworks, func(f Framework) bool { return f.FrameworkInfo.ID.Value == id })
	case ev.Type == "AGENT_ADDED" && ev.AgentAdded != nil:
		a := ev.AgentAdded.Agent
		s.removeAgent(a.AgentInfo.ID.Value)
		s.GetAgents.Agents = append(s.GetAgents.Agents, a)
	case ev.Type == "AGENT_REMOVED" && ev.AgentRemoved != nil:
		s.removeAgent(ev.AgentRemoved.AgentID.Value)
	case ev.Type == "SUBSCRIBED", ev.Type == "TASK_ADDED", ev.Type == "TASK_UPDATED",
		ev.Type == "FRAMEWORK_ADDED", ev.Type == "FRAMEWORK_UPDATED", ev.Type == "FRAMEWORK_REMOVED",
		ev.Type == "AGENT_ADDED", ev.Type == "AGENT_REMOVED":
		return fmt.Errorf("mesos event %s without its body", ev.Type)
	}
	return nil
}

func (s *GetState) taskIndex(frameworkID, taskID string) int {
	return slices.IndexFunc(s.GetTasks.Tasks, func(t Task) bool {
		return t.FrameworkID.Value == frameworkID && t.TaskID.Value == taskID
	})
}

func (s *GetState) putFramework(f Framework) {
	id := f.FrameworkInfo.ID.Value
	s.GetFrameworks.Frameworks = slices.DeleteFunc(s.GetFrameworks.Frameworks, func(g Framework) bool { return g.FrameworkInfo.ID.Value == id })
	s.GetFrameworks.Frameworks = append(s.GetFrameworks.Frameworks, f)
}

func (s *GetState) removeAgent(id string) {
	s.GetAgents.Agents = slices.DeleteFunc(s.GetAgents.Agents, func(a Agent) bool { return a.AgentInfo.ID.Value == id })
	s.GetAgents.RecoveredAgents = slices.DeleteFunc(s.GetAgents.RecoveredAgents, func(a AgentInfo) bool { return a.ID.Value == id })
}

// Replay reads a sequence of JSON events (one SUBSCRIBE stream) and
// returns the state they add up to.
func Replay(r io.Reader) (*GetState, error) {
	dec := json.NewDecoder(r)
	st := &GetState{}
	for n := 1; ; n++ {
		var ev Event
		err := dec.Decode(&ev)
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return nil, fmt.Errorf("mesos event %d: %w", n, err)
		}
		if err := st.Apply(ev); err != nil {
			return nil, fmt.Errorf("mesos event %d: %w", n, err)
		}
	}
}

// Decode parses a GET_STATE answer.
func Decode(data []byte) (*GetState, error) {
	var resp Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("decode mesos GET_STATE: %w", err)
	}
	if resp.Type != "GET_STATE" || resp.GetState == nil {
		return nil, fmt.Errorf("decode mesos GET_STATE: answer of type %q has no get_state", resp.Type)
	}
	return resp.GetState, nil
}

func joinErrors(errs []error) error { return errors.Join(errs...) }
