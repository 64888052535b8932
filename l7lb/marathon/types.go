package marathon

import (
	"encoding/json"
	"net/netip"
)

// AppsResponse is the answer of GET /v2/apps?embed=apps.tasks.
type AppsResponse struct {
	Apps []App `json:"apps"`
}

// AppResponse is the answer of GET /v2/apps/{id}?embed=app.tasks.
type AppResponse struct {
	App App `json:"app"`
}

// App is a Marathon app, with the fields dcnet-l7lb reads.
type App struct {
	ID              string            `json:"id"`
	Labels          map[string]string `json:"labels,omitempty"`
	Instances       int               `json:"instances,omitempty"`
	PortDefinitions []PortDefinition  `json:"portDefinitions,omitempty"`
	// Ports is the pre-1.0 list of service ports (portDefinitions replaced it).
	Ports        []int         `json:"ports,omitempty"`
	Container    *Container    `json:"container,omitempty"`
	Networks     []Network     `json:"networks,omitempty"`
	IPAddress    *IPAddress    `json:"ipAddress,omitempty"`
	HealthChecks []HealthCheck `json:"healthChecks,omitempty"`
	Tasks        []Task        `json:"tasks,omitempty"`
	Version      string        `json:"version,omitempty"`
}

// PortDefinition is a service port of an app on host networking.
type PortDefinition struct {
	Port     int               `json:"port"`
	Protocol string            `json:"protocol,omitempty"`
	Name     string            `json:"name,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// Container is an app's container: DOCKER or MESOS.
type Container struct {
	Type         string        `json:"type,omitempty"`
	Docker       *Docker       `json:"docker,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// Docker holds the Docker network mode and its (pre-1.5) port mappings.
type Docker struct {
	Network      string        `json:"network,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// PortMapping maps a container port to a host port and a service port.
type PortMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      int               `json:"hostPort"`
	ServicePort   *int              `json:"servicePort,omitempty"`
	Protocol      string            `json:"protocol,omitempty"`
	Name          string            `json:"name,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// Network is one network of a Marathon ≥ 1.5 app: mode host,
// container/bridge or container.
type Network struct {
	Mode string `json:"mode,omitempty"`
	Name string `json:"name,omitempty"`
}

// IPAddress is the pre-1.5 IP-per-task declaration with its discovery ports.
type IPAddress struct {
	NetworkName string     `json:"networkName,omitempty"`
	Discovery   *Discovery `json:"discovery,omitempty"`
}

// Discovery lists the ports of an IP-per-task app.
type Discovery struct {
	Ports []DiscoveryPort `json:"ports,omitempty"`
}

// DiscoveryPort is one port of an IP-per-task app.
type DiscoveryPort struct {
	Number   int    `json:"number"`
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// HealthCheck is one of an app's Marathon health checks.
type HealthCheck struct {
	// Protocol is HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS,
	// MESOS_TCP.
	Protocol               string `json:"protocol,omitempty"`
	Path                   string `json:"path,omitempty"`
	PortIndex              *int   `json:"portIndex,omitempty"`
	Port                   *int   `json:"port,omitempty"`
	IntervalSeconds        int    `json:"intervalSeconds,omitempty"`
	TimeoutSeconds         int    `json:"timeoutSeconds,omitempty"`
	GracePeriodSeconds     int    `json:"gracePeriodSeconds,omitempty"`
	MaxConsecutiveFailures int    `json:"maxConsecutiveFailures,omitempty"`
}

// Task is one task of an app.
type Task struct {
	ID                 string              `json:"id"`
	AppID              string              `json:"appId,omitempty"`
	Host               string              `json:"host,omitempty"`
	Ports              []int               `json:"ports,omitempty"`
	IPAddresses        []TaskIPAddress     `json:"ipAddresses,omitempty"`
	State              string              `json:"state,omitempty"`
	SlaveID            string              `json:"slaveId,omitempty"`
	Version            string              `json:"version,omitempty"`
	HealthCheckResults []HealthCheckResult `json:"healthCheckResults,omitempty"`
	// HostIP is Host resolved by the source (not part of Marathon's
	// answer); invalid when Host is not an IP and did not resolve.
	HostIP netip.Addr `json:"hostIP,omitzero"`
}

// TaskIPAddress is one address of an IP-per-task task.
type TaskIPAddress struct {
	IPAddress string `json:"ipAddress"`
	Protocol  string `json:"protocol,omitempty"`
}

// HealthCheckResult is the latest result of one health check of a task.
type HealthCheckResult struct {
	Alive bool `json:"alive"`
}

// Event is one event of GET /v2/events, decoded for the types the
// source follows.
type Event struct {
	EventType string `json:"eventType"`
	// status_update_event
	AppID       string          `json:"appId,omitempty"`
	TaskID      string          `json:"taskId,omitempty"`
	TaskStatus  string          `json:"taskStatus,omitempty"`
	Host        string          `json:"host,omitempty"`
	Ports       []int           `json:"ports,omitempty"`
	IPAddresses []TaskIPAddress `json:"ipAddresses,omitempty"`
	SlaveID     string          `json:"slaveId,omitempty"`
	Version     string          `json:"version,omitempty"`
	// health_status_changed_event
	InstanceID string `json:"instanceId,omitempty"`
	Alive      *bool  `json:"alive,omitempty"`
	// api_post_event
	AppDefinition *struct {
		ID string `json:"id"`
	} `json:"appDefinition,omitempty"`
	URI string `json:"uri,omitempty"`
}

// Event types the source subscribes to.
const (
	EventStatusUpdate   = "status_update_event"
	EventHealthChanged  = "health_status_changed_event"
	EventAPIPost        = "api_post_event"
	EventAppTerminated  = "app_terminated_event"
	EventStreamAttached = "event_stream_attached"
)

// SubscribedEvents is the server-side filter of the event stream.
var SubscribedEvents = []string{EventStatusUpdate, EventHealthChanged, EventAPIPost, EventAppTerminated}

// DecodeApps parses a /v2/apps answer. Apps without an ID are an error:
// a document without them is not a Marathon answer.
func DecodeApps(data []byte) ([]App, error) {
	var r struct {
		Apps *[]App `json:"apps"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.Apps == nil {
		return nil, errNoApps
	}
	for i, a := range *r.Apps {
		if a.ID == "" {
			return nil, &appError{index: i}
		}
	}
	return *r.Apps, nil
}
