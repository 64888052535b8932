// Package mesos holds the types of the Mesos master state document
// (GET /master/state, formerly /master/state.json) that DNS needs, and
// ParseState to read one.
//
// Only the fields Mesos-DNS and the dcos.thisdcos.directory task names use
// are modelled: the leader and master info, frameworks and their tasks
// (statuses with labels and container_status.network_infos, resources with
// the "ports" range string, DiscoveryInfo with ports and names, container
// port mappings) and agents ("slaves") with id, hostname and pid. Unknown
// fields are ignored so newer Mesos versions parse too.
//
// Design notes:
//
//   - PIDs ("slave(1)@10.0.0.1:5051", "master@[2001:db8::1]:5050") are kept
//     as strings and parsed on demand with ParsePID, so one malformed PID does
//     not make the whole document unreadable.
//   - A task's current state is its "state" field; when that is empty, the
//     latest status by timestamp decides. Addresses reported by a task come
//     only from its latest TASK_RUNNING status (Mesos does not order
//     statuses, so timestamps decide, as in Mesos-DNS).
//   - Port resources are the Mesos range string "[31000-31001, 31005-31005]";
//     ParsePortRanges expands it and rejects malformed or out-of-range input.
package mesos
