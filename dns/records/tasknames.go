package records

import (
	"fmt"
	"net/netip"

	"github.com/dcnet/dcnet/dns/mesos"
)

// TaskZone is the zone of the dcos-dns task names.
const TaskZone = "dcos.thisdcos.directory"

// Task name kinds, the label between the framework and TaskZone.
const (
	// KindAgentIP names resolve to the agent's IP.
	KindAgentIP = "agentip"
	// KindContainerIP names resolve to the container's IPs.
	KindContainerIP = "containerip"
	// KindAutoIP names resolve to the agent's IP when the task maps a host
	// port, else to the container's IPs.
	KindAutoIP = "autoip"
)

// containerSources are the IP sources that describe a task's container.
var containerSources = []string{SourceNetinfo, SourceDocker, SourceMesos}

// TaskNames computes the dcos-dns task names of a master state, A and AAAA
// only:
//
//	<task>.<framework>.agentip.dcos.thisdcos.directory.      agent IPs
//	<task>.<framework>.containerip.dcos.thisdcos.directory.  container IPs
//	<task>.<framework>.autoip.dcos.thisdcos.directory.       agent IPs if the
//	    task maps a host port (or has no container IP), else container IPs
//
// <task> is the sanitised task name (its DiscoveryInfo name when set, as for
// Mesos-DNS) and <framework> the sanitised framework name. Only running
// tasks on registered agents count; tasks of the same name share a name.
// Only cfg's label rule and LookupHost are used.
func TaskNames(st mesos.State, cfg Config) (RecordSet, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return RecordSet{}, fmt.Errorf("task names: %w", err)
	}
	g := &generator{cfg: cfg, spec: cfg.Spec(), dom: "." + TaskZone + ".", b: newBuilder()}
	agents := map[string][]netip.Addr{}
	for _, a := range st.Agents {
		host := a.Hostname
		if p, err := mesos.ParsePID(a.PID); err == nil {
			host = p.Host
		}
		agents[a.ID] = g.hostIPs(host)
	}
	for _, f := range st.Frameworks {
		fname := g.spec.DomainFrag(f.Name)
		if fname == "" {
			g.b.warn(fmt.Sprintf("framework %q: name sanitises to nothing", f.Name))
			continue
		}
		for _, t := range f.Tasks {
			agentIPs, known := agents[t.AgentID]
			if !t.Running() || !known {
				continue
			}
			label := g.spec.taskLabel(t)
			if label == "" {
				g.b.warn(fmt.Sprintf("task %q: name sanitises to nothing", t.ID))
				continue
			}
			g.taskName(t, label+"."+fname+".", agentIPs)
		}
	}
	return g.b.recordSet(), nil
}

// taskName adds the three names of one task; prefix is "<task>.<fw>.".
func (g *generator) taskName(t mesos.Task, prefix string, agentIPs []netip.Addr) {
	containerIPs := taskIPs(t, containerSources, nil)
	auto := containerIPs
	if t.MapsHostPort() || len(containerIPs) == 0 {
		auto = agentIPs
	}
	for kind, ips := range map[string][]netip.Addr{KindAgentIP: agentIPs, KindContainerIP: containerIPs, KindAutoIP: auto} {
		for _, ip := range ips {
			g.b.addIP(prefix+kind+g.dom, ip)
		}
	}
}
