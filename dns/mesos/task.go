package mesos

// Task states and status labels used by DNS.
const (
	// TaskRunning is the state of a running task.
	TaskRunning = "TASK_RUNNING"
	// DockerIPLabel is the status label carrying the Docker container IP.
	DockerIPLabel = "Docker.NetworkSettings.IPAddress"
	// MesosIPLabel is the status label carrying the Mesos containerizer IP.
	MesosIPLabel = "MesosContainerizer.NetworkSettings.IPAddress"
)

// CurrentState is the task's state: its "state" field, or, when that is
// empty, the state of its latest status by timestamp.
func (t Task) CurrentState() string {
	if t.State != "" {
		return t.State
	}
	best := -1
	for i, s := range t.Statuses {
		if best < 0 || s.Timestamp > t.Statuses[best].Timestamp {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return t.Statuses[best].State
}

// Running reports whether the task's current state is TASK_RUNNING.
func (t Task) Running() bool { return t.CurrentState() == TaskRunning }

// LatestRunningStatus returns the TASK_RUNNING status with the highest
// timestamp (the first such on ties), the only one whose addresses count.
func (t Task) LatestRunningStatus() (Status, bool) {
	best := -1
	for i, s := range t.Statuses {
		if s.State != TaskRunning {
			continue
		}
		if best < 0 || s.Timestamp > t.Statuses[best].Timestamp {
			best = i
		}
	}
	if best < 0 {
		return Status{}, false
	}
	return t.Statuses[best], true
}

// HasDiscoveryName reports whether the task's DiscoveryInfo names it; such a
// name replaces the task name in DNS.
func (t Task) HasDiscoveryName() bool { return t.Discovery != nil && t.Discovery.Name != "" }

// LabelValues returns the values of the status labels with the given key,
// in order.
func (s Status) LabelValues(key string) []string {
	var out []string
	for _, l := range s.Labels {
		if l.Key == key {
			out = append(out, l.Value)
		}
	}
	return out
}

// NetworkIPs returns the addresses of the status's network infos as text,
// in order: ip_addresses, or the 0.25 ip_address when a network has none.
func (s Status) NetworkIPs() []string {
	var out []string
	for _, ni := range s.ContainerStatus.NetworkInfos {
		if len(ni.IPAddresses) == 0 {
			if ni.IPAddress != "" {
				out = append(out, ni.IPAddress)
			}
			continue
		}
		for _, a := range ni.IPAddresses {
			out = append(out, a.IPAddress)
		}
	}
	return out
}

// MapsHostPort reports whether the task holds or maps a port on its agent:
// port resources, Docker port mappings with a host port, or network-info
// port mappings with a host port.
func (t Task) MapsHostPort() bool {
	if ranges, err := ParsePortRanges(t.Resources.Ports); err == nil && len(ranges) > 0 {
		return true
	}
	if t.Container == nil {
		return false
	}
	if t.Container.Docker != nil {
		for _, pm := range t.Container.Docker.PortMappings {
			if pm.HostPort != 0 {
				return true
			}
		}
	}
	for _, ni := range t.Container.NetworkInfos {
		for _, pm := range ni.PortMappings {
			if pm.HostPort != 0 {
				return true
			}
		}
	}
	return false
}
