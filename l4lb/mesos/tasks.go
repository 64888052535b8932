package mesos

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/l4lb/vip"
)

// Task states that matter to l4lb.
const (
	StateRunning = "TASK_RUNNING"
	StateKilling = "TASK_KILLING"
)

// Container types.
const (
	containerMesos  = "MESOS"
	containerDocker = "DOCKER"
)

// Port label that says whether a discovery port number is a container or
// a host port.
const (
	labelNetworkScope = "network-scope"
	scopeHost         = "host"
)

// Summary is what l4lb reads from one Mesos task.
type Summary struct {
	TaskID      string
	FrameworkID string
	Framework   string // framework name, scope of named VIPs
	Name        string
	AgentID     string
	AgentIP     netip.Addr
	TaskIPs     []netip.Addr // from the latest status
	State       string
	Healthy     bool
	Ports       []TaskPort
}

// TaskPort is one port of a task after dcos-net's merge of port mappings,
// port resources with VIP_PORT<n> labels and discovery ports.
type TaskPort struct {
	Name     string
	Protocol string
	Port     uint16      // container port; 0 when only a host port is known
	HostPort uint16      // host port; 0 when not mapped to the host
	VIPs     []vip.VIP   // sorted, unique
	labels   []labelFrom // parse errors are reported when the port is built
}

type labelFrom struct{ key, value string }

// Summaries extracts the tasks of a GET_STATE answer. Tasks whose
// framework is unknown are skipped (as dcos-net does); a task's agent IP is
// its agent's hostname when that is an IP address, else agentIP (the local
// agent's IP when state is the local agent's answer); tasks with neither
// are skipped. Malformed VIP labels are returned as errors; the rest of
// the task still counts.
func Summaries(state *GetState, agentIP netip.Addr) ([]Summary, []error) {
	frameworks := map[string]string{}
	for _, f := range state.GetFrameworks.Frameworks {
		frameworks[f.FrameworkInfo.ID.Value] = f.FrameworkInfo.Name
	}
	agents := map[string]netip.Addr{}
	for _, a := range state.GetAgents.RecoveredAgents {
		agents[a.ID.Value] = hostIP(a.Hostname)
	}
	for _, a := range state.GetAgents.Agents {
		agents[a.AgentInfo.ID.Value] = hostIP(a.AgentInfo.Hostname)
	}
	tasks := state.GetTasks.Tasks
	if len(tasks) == 0 {
		tasks = state.GetTasks.LaunchedTasks
	}
	var out []Summary
	var errs []error
	for i := range tasks {
		t := &tasks[i]
		fw, ok := frameworks[t.FrameworkID.Value]
		if !ok {
			continue
		}
		ip := agents[t.AgentID.Value]
		if !ip.IsValid() {
			ip = agentIP
		}
		if !ip.IsValid() {
			continue
		}
		s, terrs := summarize(t, fw, ip)
		for _, err := range terrs {
			errs = append(errs, fmt.Errorf("task %s of framework %s: %w", t.TaskID.Value, fw, err))
		}
		out = append(out, s)
	}
	return out, errs
}

func hostIP(hostname string) netip.Addr {
	ip, err := netip.ParseAddr(hostname)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}
	}
	return ip.Unmap()
}

func summarize(t *Task, framework string, agentIP netip.Addr) (Summary, []error) {
	st := latestStatus(t.Statuses)
	s := Summary{
		TaskID: t.TaskID.Value, FrameworkID: t.FrameworkID.Value, Framework: framework,
		Name: t.Name, AgentID: t.AgentID.Value, AgentIP: agentIP, State: t.State,
	}
	if t.Discovery != nil && t.Discovery.Name != "" {
		s.Name = t.Discovery.Name
	}
	if st != nil && st.ContainerStatus != nil {
		for _, ni := range st.ContainerStatus.NetworkInfos {
			for _, a := range ni.IPAddresses {
				if ip, err := netip.ParseAddr(a.IPAddress); err == nil && ip.Zone() == "" {
					s.TaskIPs = append(s.TaskIPs, ip.Unmap())
				}
			}
		}
	}
	switch {
	case st != nil && st.Healthy != nil:
		s.Healthy = *st.Healthy
	default:
		// A health check that has not reported yet counts as failing.
		s.Healthy = len(t.HealthCheck) == 0 || string(t.HealthCheck) == "null"
	}
	var errs []error
	ports := mergePorts(mergePorts(portMappings(t, st), portResources(t, &errs)), discoveryPorts(t))
	if len(s.TaskIPs) == 1 && s.TaskIPs[0] == agentIP {
		ports = mergeHostPorts(ports)
	}
	for i := range ports {
		errs = append(errs, ports[i].parse(framework)...)
	}
	slices.SortFunc(ports, func(a, b TaskPort) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port), cmp.Compare(a.HostPort, b.HostPort))
	})
	s.Ports = ports
	return s, errs
}

// latestStatus is the status with the highest timestamp (the last one on
// ties), or nil.
func latestStatus(ss []TaskStatus) *TaskStatus {
	var best *TaskStatus
	for i := range ss {
		if best == nil || ss[i].Timestamp >= best.Timestamp {
			best = &ss[i]
		}
	}
	return best
}

func protocol(p string) (string, bool) {
	switch strings.ToLower(p) {
	case vip.ProtoTCP, "":
		return vip.ProtoTCP, true
	case vip.ProtoUDP:
		return vip.ProtoUDP, true
	}
	return "", false
}

func port16(n int64) (uint16, bool) { return uint16(n), n > 0 && n <= 65535 }

// portMappings are the host→container mappings: Docker bridge mappings for
// DOCKER containers; for MESOS containers those of the container's
// network infos, or of the latest status when the container has none.
func portMappings(t *Task, st *TaskStatus) []TaskPort {
	var pms []PortMapping
	ctype := containerMesos
	if t.Container != nil && t.Container.Type != "" {
		ctype = t.Container.Type
	}
	switch {
	case ctype == containerDocker && t.Container.Docker != nil:
		pms = t.Container.Docker.PortMappings
	case ctype == containerMesos:
		nis := []NetworkInfo(nil)
		if t.Container != nil && t.Container.NetworkInfos != nil {
			nis = t.Container.NetworkInfos
		} else if st != nil && st.ContainerStatus != nil {
			nis = st.ContainerStatus.NetworkInfos
		}
		for _, ni := range nis {
			pms = append(pms, ni.PortMappings...)
		}
	}
	var out []TaskPort
	for _, pm := range pms {
		proto, ok := protocol(pm.Protocol)
		cp, cok := port16(pm.ContainerPort)
		hp, hok := port16(pm.HostPort)
		if ok && cok && hok {
			out = append(out, TaskPort{Protocol: proto, Port: cp, HostPort: hp})
		}
	}
	return out
}

// portResources turns the task labels VIP_PORT<n>=proto://vip into host
// ports: the n-th port of the task's "ports" resources.
func portResources(t *Task, errs *[]error) []TaskPort {
	if t.Labels == nil {
		return nil
	}
	var out []TaskPort
	for _, l := range t.Labels.Labels {
		idx, v, ok, err := vip.ParseTaskLabel(l.Key, l.Value, "")
		switch {
		case !ok:
			continue
		case err != nil:
			*errs = append(*errs, err)
			continue
		}
		hp, found := nthPort(t.Resources, idx)
		if !found {
			*errs = append(*errs, &vip.LabelError{Key: l.Key, Value: l.Value, Reason: fmt.Sprintf("the task has no port resource %d", idx)})
			continue
		}
		value := l.Value[strings.Index(l.Value, "://")+3:]
		out = append(out, TaskPort{Protocol: v.Protocol, HostPort: hp, labels: []labelFrom{{l.Key, value}}})
	}
	return out
}

// nthPort returns the n-th port (0-based) of the "ports" resources,
// without expanding the ranges.
func nthPort(rs []Resource, n int) (uint16, bool) {
	left := int64(n)
	for _, r := range rs {
		if r.Name != "ports" {
			continue
		}
		switch {
		case r.Type == "RANGES" && r.Ranges != nil:
			for _, rg := range r.Ranges.Range {
				if rg.End < rg.Begin {
					continue
				}
				if size := rg.End - rg.Begin + 1; size > 0 && left >= size {
					left -= size
					continue
				}
				return port16(rg.Begin + left)
			}
		case r.Type == "SCALAR" && r.Scalar != nil:
			if left == 0 {
				return port16(int64(r.Scalar.Value))
			}
			left--
		}
	}
	return 0, false
}

// discoveryPorts are the DiscoveryInfo ports (number 0 skipped) with their
// VIP labels; the number is a host port when network-scope=host.
func discoveryPorts(t *Task) []TaskPort {
	if t.Discovery == nil || t.Discovery.Ports == nil {
		return nil
	}
	var out []TaskPort
	for _, p := range t.Discovery.Ports.Ports {
		proto, ok := protocol(p.Protocol)
		num, nok := port16(p.Number)
		if !ok || !nok {
			continue
		}
		tp := TaskPort{Name: cmp.Or(p.Name, "default"), Protocol: proto}
		host := false
		if p.Labels != nil {
			for _, l := range p.Labels.Labels {
				if vip.IsVIPKey(l.Key) {
					tp.labels = append(tp.labels, labelFrom{l.Key, l.Value})
				}
				if l.Key == labelNetworkScope && l.Value == scopeHost {
					host = true
				}
			}
		}
		if host {
			tp.HostPort = num
		} else {
			tp.Port = num
		}
		out = append(out, tp)
	}
	return out
}
