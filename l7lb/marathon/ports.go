package marathon

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

var errNoApps = errors.New(`not a Marathon apps answer: no "apps" list`)

type appError struct{ index int }

func (e *appError) Error() string {
	return fmt.Sprintf("not a Marathon apps answer: app %d has no id", e.index)
}

// Networking modes of an app, as Marathon-LB's utils.py names them.
const (
	ModeHost            = "host"
	ModeContainerBridge = "container/bridge"
	ModeContainer       = "container"
)

// NetworkingMode is how the app's tasks are reached: host (agent IP and
// task ports), container/bridge (agent IP and host ports) or container
// (IP per task: task IP and container ports).
func NetworkingMode(a *App) string {
	mode := ModeHost
	if a.IPAddress != nil {
		mode = ModeContainer
	}
	if a.Container != nil && a.Container.Docker != nil {
		switch a.Container.Docker.Network {
		case "USER":
			mode = ModeContainer
		case "BRIDGE":
			mode = ModeContainerBridge
		}
	}
	for _, n := range a.Networks {
		mode = n.Mode
		if mode == "" {
			mode = ModeContainer
		}
	}
	return mode
}

// PortMappings are the app's port mappings (Docker's pre-1.5 place first).
func PortMappings(a *App) []PortMapping {
	if a.Container == nil {
		return nil
	}
	if a.Container.Docker != nil && len(a.Container.Docker.PortMappings) > 0 {
		return a.Container.Docker.PortMappings
	}
	return a.Container.PortMappings
}

// DeclaredServicePorts are the service ports Marathon assigned: the port
// mappings' for container modes when any, else the port definitions'
// (or the legacy ports list). IP-per-task apps often have none; see
// PortAssigner.
func DeclaredServicePorts(a *App) []int {
	mode := NetworkingMode(a)
	if mode == ModeContainer || mode == ModeContainerBridge {
		var ports []int
		for _, pm := range PortMappings(a) {
			if pm.ServicePort != nil {
				ports = append(ports, *pm.ServicePort)
			}
		}
		if len(ports) > 0 {
			return ports
		}
	}
	if len(a.PortDefinitions) > 0 {
		ports := make([]int, 0, len(a.PortDefinitions))
		for _, pd := range a.PortDefinitions {
			ports = append(ports, pd.Port)
		}
		return ports
	}
	return a.Ports
}

// PortNames are the names of the app's ports by index (port mappings for
// container modes, else port definitions, else discovery ports); "" for
// an unnamed port.
func PortNames(a *App) []string {
	var names []string
	mode := NetworkingMode(a)
	if pms := PortMappings(a); (mode == ModeContainer || mode == ModeContainerBridge) && len(pms) > 0 {
		for _, pm := range pms {
			names = append(names, pm.Name)
		}
		return names
	}
	if len(a.PortDefinitions) > 0 {
		for _, pd := range a.PortDefinitions {
			names = append(names, pd.Name)
		}
		return names
	}
	if a.IPAddress != nil && a.IPAddress.Discovery != nil {
		for _, p := range a.IPAddress.Discovery.Ports {
			names = append(names, p.Name)
		}
	}
	return names
}

// TaskPorts are the ports a task serves its service ports on, by index:
// host and container/bridge apps use the task's host ports (else the
// port definitions', else the mappings' container ports), IP-per-task
// apps the discovery ports, else the mappings' container ports.
func TaskPorts(a *App, t *Task) []int {
	switch NetworkingMode(a) {
	case ModeHost:
		if len(t.Ports) > 0 {
			return t.Ports
		}
		return definitionPorts(a)
	case ModeContainerBridge:
		if len(t.Ports) > 0 {
			return t.Ports
		}
		if ps := definitionPorts(a); len(ps) > 0 {
			return ps
		}
		return containerPorts(a)
	}
	if a.IPAddress != nil && a.IPAddress.Discovery != nil && len(a.IPAddress.Discovery.Ports) > 0 {
		ps := make([]int, 0, len(a.IPAddress.Discovery.Ports))
		for _, p := range a.IPAddress.Discovery.Ports {
			ps = append(ps, p.Number)
		}
		return ps
	}
	return containerPorts(a)
}

// ContainerPorts are the container ports of the app's port mappings (or
// discovery ports), for CONTAINER_IP endpoints of pools.
func ContainerPorts(a *App) []int {
	if a.IPAddress != nil && a.IPAddress.Discovery != nil && len(a.IPAddress.Discovery.Ports) > 0 {
		ps := make([]int, 0, len(a.IPAddress.Discovery.Ports))
		for _, p := range a.IPAddress.Discovery.Ports {
			ps = append(ps, p.Number)
		}
		return ps
	}
	return containerPorts(a)
}

func definitionPorts(a *App) []int {
	var ps []int
	for _, pd := range a.PortDefinitions {
		ps = append(ps, pd.Port)
	}
	return ps
}

func containerPorts(a *App) []int {
	var ps []int
	for _, pm := range PortMappings(a) {
		ps = append(ps, pm.ContainerPort)
	}
	return ps
}

// TaskIP is the address a task's ports are reached on: its first IP
// address for IP-per-task apps, its host's (resolved) address otherwise;
// invalid when there is none yet.
func TaskIP(a *App, t *Task) netip.Addr {
	if NetworkingMode(a) == ModeContainer {
		return FirstTaskIP(t)
	}
	return t.HostIP
}

// FirstTaskIP is the task's first IP address (container IP), invalid
// when it has none.
func FirstTaskIP(t *Task) netip.Addr {
	for _, ip := range t.IPAddresses {
		if a, err := netip.ParseAddr(ip.IPAddress); err == nil && a.Zone() == "" {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// HealthCheckFor is the health check Marathon-LB uses for port index i:
// the first check with a fixed port, or the first whose portIndex is i.
func HealthCheckFor(a *App, i int) *HealthCheck {
	for k := range a.HealthChecks {
		hc := &a.HealthChecks[k]
		if hc.Port != nil && *hc.Port != 0 {
			return hc
		}
		idx := 0
		if hc.PortIndex != nil {
			idx = *hc.PortIndex
		} else if hc.Protocol == "COMMAND" {
			continue
		}
		if idx == i {
			return hc
		}
	}
	return nil
}

// IsHTTPCheck reports whether a Marathon health check speaks plain HTTP
// (HTTP, MESOS_HTTP): such a port is served in http mode, as
// Marathon-LB does. HTTPS checks are checked by a TCP connect (HAProxy
// would speak plain HTTP to a TLS port).
func IsHTTPCheck(hc *HealthCheck) bool {
	switch strings.ToUpper(hc.Protocol) {
	case "HTTP", "MESOS_HTTP":
		return true
	}
	return false
}

// IsCommandCheck reports whether a health check runs a command in the
// task (nothing HAProxy can do).
func IsCommandCheck(hc *HealthCheck) bool {
	return strings.EqualFold(hc.Protocol, "COMMAND")
}
