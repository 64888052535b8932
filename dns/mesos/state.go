package mesos

// State is the part of a Mesos master /master/state document DNS needs.
type State struct {
	// ID is the master's ID.
	ID string `json:"id"`
	// PID is the answering master's PID, "master@10.0.0.1:5050".
	PID string `json:"pid"`
	// Hostname is the answering master's hostname.
	Hostname string `json:"hostname"`
	// Version is the Mesos version.
	Version string `json:"version"`
	// Leader is the leading master's PID, "master@10.0.0.1:5050"; empty
	// when no leader is elected.
	Leader string `json:"leader"`
	// LeaderInfo describes the leading master (Mesos >= 0.24).
	LeaderInfo *MasterInfo `json:"leader_info,omitempty"`
	// Frameworks are the registered frameworks with their active tasks.
	Frameworks []Framework `json:"frameworks"`
	// Agents are the registered agents ("slaves" in the document).
	Agents []Agent `json:"slaves"`
}

// MasterInfo describes a master (Mesos MasterInfo).
type MasterInfo struct {
	// ID is the master's ID.
	ID string `json:"id"`
	// PID is the master's PID.
	PID string `json:"pid"`
	// Port is the master's port.
	Port int `json:"port"`
	// Hostname is the master's hostname.
	Hostname string `json:"hostname"`
	// Address is the master's address, when reported.
	Address *Address `json:"address,omitempty"`
}

// Address is a Mesos Address: hostname and/or IP and a port.
type Address struct {
	// Hostname is the host name.
	Hostname string `json:"hostname"`
	// IP is the IP address as text.
	IP string `json:"ip"`
	// Port is the port.
	Port int `json:"port"`
}

// Framework is a registered framework.
type Framework struct {
	// ID is the framework ID.
	ID string `json:"id"`
	// Name is the framework name, e.g. "marathon".
	Name string `json:"name"`
	// Hostname is the scheduler's hostname.
	Hostname string `json:"hostname"`
	// PID is the scheduler's PID, "scheduler(1)@10.0.0.1:25501"; empty for
	// HTTP API schedulers.
	PID string `json:"pid"`
	// Active reports whether the framework is active.
	Active bool `json:"active"`
	// Tasks are the framework's non-terminal tasks.
	Tasks []Task `json:"tasks"`
}

// Agent is a registered agent ("slave").
type Agent struct {
	// ID is the agent ID, "...-S0".
	ID string `json:"id"`
	// Hostname is the agent's hostname (often an IP).
	Hostname string `json:"hostname"`
	// PID is the agent's PID, "slave(1)@10.0.0.1:5051".
	PID string `json:"pid"`
	// Active reports whether the agent is active.
	Active bool `json:"active"`
}

// Task is a task of a framework.
type Task struct {
	// ID is the task ID.
	ID string `json:"id"`
	// Name is the task name.
	Name string `json:"name"`
	// FrameworkID is the owning framework's ID.
	FrameworkID string `json:"framework_id"`
	// AgentID is the ID of the agent running the task.
	AgentID string `json:"slave_id"`
	// State is the task's current state, e.g. "TASK_RUNNING".
	State string `json:"state"`
	// Statuses are the status updates, in no guaranteed order.
	Statuses []Status `json:"statuses"`
	// Resources are the resources the task holds.
	Resources Resources `json:"resources"`
	// Discovery is the task's DiscoveryInfo, if set.
	Discovery *DiscoveryInfo `json:"discovery,omitempty"`
	// Labels are the task labels.
	Labels Labels `json:"labels"`
	// Container is the task's ContainerInfo, if set.
	Container *ContainerInfo `json:"container,omitempty"`
}

// Resources are the scalar and range resources of a task; only ports matter
// to DNS.
type Resources struct {
	// Ports is the Mesos range string, "[31000-31001, 31005-31005]".
	Ports string `json:"ports"`
}

// Status is a task status update.
type Status struct {
	// State is the task state reported, e.g. "TASK_RUNNING".
	State string `json:"state"`
	// Timestamp is seconds since the epoch.
	Timestamp float64 `json:"timestamp"`
	// Labels are the status labels (Docker and Mesos containerizer IPs).
	Labels []Label `json:"labels"`
	// ContainerStatus holds the container's network infos.
	ContainerStatus ContainerStatus `json:"container_status"`
}

// ContainerStatus is the container part of a status update.
type ContainerStatus struct {
	// NetworkInfos are the container's networks and addresses.
	NetworkInfos []NetworkInfo `json:"network_infos"`
}

// NetworkInfo is a container network with its addresses.
type NetworkInfo struct {
	// IPAddresses are the addresses (Mesos >= 0.26).
	IPAddresses []IPAddress `json:"ip_addresses"`
	// IPAddress is the single address of Mesos 0.25.
	IPAddress string `json:"ip_address"`
	// Name is the network name (CNI network), e.g. "dcos".
	Name string `json:"name"`
	// Labels are the network labels.
	Labels Labels `json:"labels"`
	// PortMappings map host ports to container ports.
	PortMappings []PortMapping `json:"port_mappings"`
}

// IPAddress is one address of a NetworkInfo.
type IPAddress struct {
	// Protocol is "IPv4" or "IPv6" when reported.
	Protocol string `json:"protocol"`
	// IPAddress is the address as text.
	IPAddress string `json:"ip_address"`
}

// PortMapping maps a host port to a container port.
type PortMapping struct {
	// HostPort is the port on the agent.
	HostPort int `json:"host_port"`
	// ContainerPort is the port in the container.
	ContainerPort int `json:"container_port"`
	// Protocol is "tcp" or "udp"; empty means tcp.
	Protocol string `json:"protocol"`
}

// ContainerInfo is the task's container description.
type ContainerInfo struct {
	// Type is "DOCKER" or "MESOS".
	Type string `json:"type"`
	// Docker holds Docker specifics.
	Docker *DockerInfo `json:"docker,omitempty"`
	// NetworkInfos are the requested networks.
	NetworkInfos []NetworkInfo `json:"network_infos"`
}

// DockerInfo holds Docker container specifics.
type DockerInfo struct {
	// Network is "HOST", "BRIDGE", "USER" or "NONE".
	Network string `json:"network"`
	// PortMappings map host ports to container ports (BRIDGE, USER).
	PortMappings []PortMapping `json:"port_mappings"`
}

// Label is a key/value label.
type Label struct {
	// Key is the label key.
	Key string `json:"key"`
	// Value is the label value.
	Value string `json:"value"`
}

// Labels wraps a label list as Mesos does ({"labels": [...]}).
type Labels struct {
	// Labels are the labels.
	Labels []Label `json:"labels"`
}

// DiscoveryInfo is a task's service discovery description.
type DiscoveryInfo struct {
	// Visibility is "FRAMEWORK", "CLUSTER" or "EXTERNAL".
	Visibility string `json:"visibility"`
	// Name overrides the task name in DNS when set.
	Name string `json:"name"`
	// Version is a free-form version.
	Version string `json:"version"`
	// Location is a free-form location.
	Location string `json:"location"`
	// Environment is a free-form environment.
	Environment string `json:"environment"`
	// Ports are the discoverable ports.
	Ports DiscoveryPorts `json:"ports"`
	// Labels are the discovery labels.
	Labels Labels `json:"labels"`
}

// DiscoveryPorts wraps the port list as Mesos does ({"ports": [...]}).
type DiscoveryPorts struct {
	// Ports are the ports.
	Ports []DiscoveryPort `json:"ports"`
}

// DiscoveryPort is one discoverable port.
type DiscoveryPort struct {
	// Number is the port number.
	Number int `json:"number"`
	// Name is the optional port name, e.g. "http".
	Name string `json:"name"`
	// Protocol is "tcp" or "udp"; empty means both to Mesos-DNS.
	Protocol string `json:"protocol"`
	// Labels are the port labels (VIP labels, network-scope).
	Labels Labels `json:"labels"`
}
