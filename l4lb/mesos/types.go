package mesos

import "encoding/json"

// Response is an Operator API answer; only GET_STATE is used here.
type Response struct {
	Type     string    `json:"type"`
	GetState *GetState `json:"get_state,omitempty"`
}

// GetState is the GET_STATE answer of an agent (tasks in launched_tasks)
// or a master (tasks in tasks), as JSON.
type GetState struct {
	GetTasks      GetTasks      `json:"get_tasks"`
	GetFrameworks GetFrameworks `json:"get_frameworks"`
	GetAgents     GetAgents     `json:"get_agents"`
}

// GetTasks lists tasks. A master fills Tasks, an agent LaunchedTasks;
// completed and queued tasks have no backends and are not decoded.
type GetTasks struct {
	Tasks         []Task `json:"tasks,omitempty"`
	LaunchedTasks []Task `json:"launched_tasks,omitempty"`
}

// GetFrameworks lists frameworks.
type GetFrameworks struct {
	Frameworks []Framework `json:"frameworks,omitempty"`
}

// Framework is one framework; its name scopes named VIPs.
type Framework struct {
	FrameworkInfo FrameworkInfo `json:"framework_info"`
}

// FrameworkInfo identifies a framework.
type FrameworkInfo struct {
	ID   Value  `json:"id"`
	Name string `json:"name,omitempty"`
}

// GetAgents lists agents. An agent's own GET_STATE has none (dcos-net
// added GET_AGENT's answer); a master lists registered and recovered ones.
type GetAgents struct {
	Agents          []Agent     `json:"agents,omitempty"`
	RecoveredAgents []AgentInfo `json:"recovered_agents,omitempty"`
}

// Agent is one registered agent.
type Agent struct {
	AgentInfo AgentInfo `json:"agent_info"`
}

// AgentInfo identifies an agent; Hostname is an IP address or a DNS name.
type AgentInfo struct {
	ID       Value  `json:"id"`
	Hostname string `json:"hostname,omitempty"`
	Port     int    `json:"port,omitempty"`
}

// Value is Mesos' {"value": "..."} wrapper of IDs.
type Value struct {
	Value string `json:"value"`
}

// Task is a Mesos Task.
type Task struct {
	Name        string          `json:"name,omitempty"`
	TaskID      Value           `json:"task_id"`
	FrameworkID Value           `json:"framework_id"`
	AgentID     Value           `json:"agent_id"`
	State       string          `json:"state,omitempty"`
	Resources   []Resource      `json:"resources,omitempty"`
	Statuses    []TaskStatus    `json:"statuses,omitempty"`
	Labels      *Labels         `json:"labels,omitempty"`
	Discovery   *DiscoveryInfo  `json:"discovery,omitempty"`
	Container   *ContainerInfo  `json:"container,omitempty"`
	HealthCheck json.RawMessage `json:"health_check,omitempty"`
}

// Labels is Mesos' {"labels": [...]} wrapper.
type Labels struct {
	Labels []Label `json:"labels,omitempty"`
}

// Label is one key/value label.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Resource is a task resource; "ports" resources hold the host ports.
type Resource struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Scalar *Scalar `json:"scalar,omitempty"`
	Ranges *Ranges `json:"ranges,omitempty"`
}

// Scalar is a SCALAR resource value.
type Scalar struct {
	Value float64 `json:"value"`
}

// Ranges is a RANGES resource value.
type Ranges struct {
	Range []Range `json:"range,omitempty"`
}

// Range is an inclusive range.
type Range struct {
	Begin int64 `json:"begin"`
	End   int64 `json:"end"`
}

// TaskStatus is one status update of a task.
type TaskStatus struct {
	TaskID          Value            `json:"task_id"`
	AgentID         Value            `json:"agent_id"`
	State           string           `json:"state,omitempty"`
	Timestamp       float64          `json:"timestamp,omitempty"`
	Healthy         *bool            `json:"healthy,omitempty"`
	ContainerStatus *ContainerStatus `json:"container_status,omitempty"`
}

// ContainerStatus holds the container's addresses.
type ContainerStatus struct {
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
}

// NetworkInfo is one network of a container.
type NetworkInfo struct {
	Name         string        `json:"name,omitempty"`
	IPAddresses  []IPAddress   `json:"ip_addresses,omitempty"`
	PortMappings []PortMapping `json:"port_mappings,omitempty"`
	Labels       *Labels       `json:"labels,omitempty"`
}

// IPAddress is one container address.
type IPAddress struct {
	Protocol  string `json:"protocol,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// PortMapping forwards a host port to a container port.
type PortMapping struct {
	HostPort      int64  `json:"host_port"`
	ContainerPort int64  `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"`
}

// DiscoveryInfo is the task's service discovery information; its port
// labels carry VIPs.
type DiscoveryInfo struct {
	Name  string `json:"name,omitempty"`
	Ports *Ports `json:"ports,omitempty"`
}

// Ports is Mesos' {"ports": [...]} wrapper.
type Ports struct {
	Ports []Port `json:"ports,omitempty"`
}

// Port is one discovery port. Its number is a container port, or a host
// port when its label network-scope is "host".
type Port struct {
	Number   int64   `json:"number"`
	Name     string  `json:"name,omitempty"`
	Protocol string  `json:"protocol,omitempty"`
	Labels   *Labels `json:"labels,omitempty"`
}

// ContainerInfo is the task's container: MESOS (UCR) or DOCKER.
type ContainerInfo struct {
	Type         string        `json:"type,omitempty"`
	Docker       *DockerInfo   `json:"docker,omitempty"`
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
}

// DockerInfo holds Docker bridge port mappings.
type DockerInfo struct {
	Network      string        `json:"network,omitempty"`
	PortMappings []PortMapping `json:"port_mappings,omitempty"`
}
