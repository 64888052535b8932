package mesos

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/dcnet/dcnet/l4lb/vip"
)

// mergePorts folds every port of a into b: a port of a that has the
// protocol and the container port, or the protocol and the host port, of a
// port of b is merged into it (fields of a win, VIP labels add up); the
// others are appended. This is dcos-net's merge_task_ports.
func mergePorts(a, b []TaskPort) []TaskPort {
	if len(a) == 0 {
		return b
	}
	acc := slices.Clone(b)
	for _, p := range a {
		i := slices.IndexFunc(acc, func(q TaskPort) bool { return samePort(p, q) })
		if i < 0 {
			acc = append(acc, p)
			continue
		}
		acc[i] = mergePort(acc[i], p)
	}
	return acc
}

func samePort(a, b TaskPort) bool {
	if a.Protocol != b.Protocol {
		return false
	}
	return (a.Port != 0 && a.Port == b.Port) || (a.HostPort != 0 && a.HostPort == b.HostPort)
}

// mergePort merges over into base: set fields of over win; labels add up.
func mergePort(base, over TaskPort) TaskPort {
	out := base
	out.Name = cmp.Or(over.Name, base.Name)
	out.Protocol = cmp.Or(over.Protocol, base.Protocol)
	out.Port = cmp.Or(over.Port, base.Port)
	out.HostPort = cmp.Or(over.HostPort, base.HostPort)
	out.labels = append(slices.Clone(base.labels), over.labels...)
	return out
}

// mergeHostPorts is for host-networked tasks (task IP = agent IP): host
// ports are the ports, and ports that then coincide merge.
func mergeHostPorts(ports []TaskPort) []TaskPort {
	var out []TaskPort
	for _, p := range ports {
		if p.HostPort != 0 {
			p.Port, p.HostPort = p.HostPort, 0
		}
		i := slices.IndexFunc(out, func(q TaskPort) bool { return q.Protocol == p.Protocol && q.Port == p.Port })
		if i < 0 {
			out = append(out, p)
			continue
		}
		out[i] = mergePort(out[i], p)
	}
	return out
}

// parse turns the port's VIP labels into VIPs (unique, sorted by value as
// dcos-net's usort) and returns the errors of malformed ones.
func (p *TaskPort) parse(framework string) []error {
	slices.SortStableFunc(p.labels, func(a, b labelFrom) int { return cmp.Compare(a.value, b.value) })
	p.labels = slices.CompactFunc(p.labels, func(a, b labelFrom) bool { return a.value == b.value })
	var errs []error
	for _, l := range p.labels {
		v, err := vip.ParseValue(l.value, p.Protocol, framework)
		if err != nil {
			le := err.(*vip.LabelError)
			if le.OtherProtocol {
				continue // udp:// on a tcp port: the udp port carries it
			}
			le.Key = l.key
			errs = append(errs, le)
			continue
		}
		p.VIPs = append(p.VIPs, v)
	}
	return errs
}

// DefaultOverlays are DC/OS's overlay ranges (dcos, dcos6): a task
// address in one of them is reachable from every node.
var DefaultOverlays = []netip.Prefix{netip.MustParsePrefix("9.0.0.0/8"), netip.MustParsePrefix("fd01:b::/64")}

// Bindings are the VIP backends of a task: none unless it is
// TASK_RUNNING or TASK_KILLING (then Draining). A port is reached at each
// task IP and the container port; a port mapped to the host is reached so
// too when the task has addresses on an overlay (in overlays: reachable
// from every node, the task's own included), and at agent IP:host port
// only when it has none (a task on a node-local bridge, Docker BRIDGE or
// UCR's mesos-bridge, or on the host network). dcos-net balanced every
// mapped port to agent IP:host port and, on the task's own agent, to the
// task address instead (dcos_l4lb_mesos_poller's local_port_mappings):
// with an overlay address the task address works from every node.
func (s Summary) Bindings(overlays []netip.Prefix) []vip.Binding {
	if s.State != StateRunning && s.State != StateKilling {
		return nil
	}
	ips := s.TaskIPs
	if len(ips) == 0 {
		ips = []netip.Addr{s.AgentIP}
	}
	var onOverlay []netip.Addr
	for _, ip := range s.TaskIPs {
		if slices.ContainsFunc(overlays, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			onOverlay = append(onOverlay, ip)
		}
	}
	var out []vip.Binding
	for _, p := range s.Ports {
		for _, v := range p.VIPs {
			backend := vip.Backend{Node: s.AgentID, NodeIP: s.AgentIP, Task: s.TaskID, Healthy: s.Healthy, Draining: s.State == StateKilling}
			switch {
			case p.HostPort != 0 && p.Port != 0 && len(onOverlay) > 0:
				for _, ip := range onOverlay {
					backend.IP, backend.Port = ip, p.Port
					out = append(out, vip.Binding{VIP: v, Backend: backend})
				}
			case p.HostPort != 0:
				backend.IP, backend.Port = s.AgentIP, p.HostPort
				if i := slices.IndexFunc(s.TaskIPs, func(a netip.Addr) bool { return a.Is4() && a != s.AgentIP }); i >= 0 && p.Port != 0 {
					backend.Local = netip.AddrPortFrom(s.TaskIPs[i], p.Port)
				}
				out = append(out, vip.Binding{VIP: v, Backend: backend})
			case p.Port != 0:
				for _, ip := range ips {
					backend.IP, backend.Port = ip, p.Port
					out = append(out, vip.Binding{VIP: v, Backend: backend})
				}
			}
		}
	}
	return out
}

// Backends returns the VIPs and backends of a GET_STATE answer (see
// Summaries and Summary.Bindings; overlays nil means DefaultOverlays),
// sorted, and the malformed VIP labels joined in one error; the bindings
// of well-formed labels are returned either way.
func Backends(state *GetState, agentIP netip.Addr, overlays []netip.Prefix) ([]vip.Binding, error) {
	if overlays == nil {
		overlays = DefaultOverlays
	}
	sums, errs := Summaries(state, agentIP)
	var out []vip.Binding
	for _, s := range sums {
		out = append(out, s.Bindings(overlays)...)
	}
	return vip.Normalize(out), joinErrors(errs)
}
