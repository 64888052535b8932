package mesostest

import "github.com/dcnet/dcnet/dns/mesos"

// State is a small master state for unit tests: master 10.0.0.1:5050
// leading, one agent a-S1 at 10.0.0.4, and framework marathon running
// one task per name (task ID name+".1", no IP labels: the agent's IP).
func State(tasks ...string) mesos.State {
	st := mesos.State{
		PID:    "master@10.0.0.1:5050",
		Leader: "master@10.0.0.1:5050",
		Agents: []mesos.Agent{{ID: "a-S1", PID: "slave(1)@10.0.0.4:5051"}},
	}
	fw := mesos.Framework{Name: "marathon"}
	for _, name := range tasks {
		fw.Tasks = append(fw.Tasks, mesos.Task{ID: name + ".1", Name: name, AgentID: "a-S1", State: mesos.TaskRunning,
			Statuses: []mesos.Status{{State: mesos.TaskRunning, Timestamp: 1}}})
	}
	st.Frameworks = []mesos.Framework{fw}
	return st
}
