package records

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/dcnet/dcnet/dns/mesos"
)

// tasks adds the records of every task in state TASK_RUNNING on a known
// agent (Mesos-DNS reads the task's "state" field only).
func (g *generator) tasks(fws []mesos.Framework, agents map[string][]netip.Addr) {
	for _, f := range fws {
		fname := g.spec.DomainFrag(f.Name)
		if fname == "" {
			continue // warned about in frameworks
		}
		for _, t := range f.Tasks {
			if t.State != mesos.TaskRunning {
				continue
			}
			agentIPs, known := agents[t.AgentID]
			if !known {
				g.b.warn(fmt.Sprintf("task %q: agent %q is not registered", t.ID, t.AgentID))
				continue
			}
			g.task(t, fname, agentIPs)
		}
	}
}

// taskLabel is the task's DNS label: its DiscoveryInfo name when set, else
// its name, sanitised.
func (s Spec) taskLabel(t mesos.Task) string {
	if t.HasDiscoveryName() {
		return s.Label(t.Discovery.Name)
	}
	return s.Label(t.Name)
}

// agentTail is the lower-cased last '-' field of an agent ID ("...-S3" ->
// "s3"), as Mesos-DNS's slaveIDTail: not sanitised further.
func agentTail(agentID string) string {
	return strings.ToLower(agentID[strings.LastIndexByte(agentID, '-')+1:])
}

// canonicalLabel is "<task>-<hash>-<agenttail>", unique per task.
func canonicalLabel(label string, t mesos.Task) string {
	return label + "-" + taskHash(t.ID) + "-" + agentTail(t.AgentID)
}

// task adds one running task's A/AAAA and SRV records. A task with a
// DiscoveryInfo name gets them twice, as in Mesos-DNS: once under the name
// exactly as given (Mesos-DNS's "LEGACY" records: "big.dog" keeps its
// dots, and its letter case, which no lower-cased question matches), once
// under the sanitised label.
func (g *generator) task(t mesos.Task, fname string, agentIPs []netip.Addr) {
	taskIPs := taskIPs(t, g.cfg.IPSources, agentIPs)
	if !t.HasDiscoveryName() {
		label := g.spec.Label(t.Name)
		if label == "" {
			g.b.warn(fmt.Sprintf("task %q: name sanitises to nothing", t.ID))
			return
		}
		g.taskRecords(t, label, fname, taskIPs, agentIPs)
		return
	}
	g.taskRecords(t, t.Discovery.Name, fname, taskIPs, agentIPs)
	if label := g.spec.Label(t.Discovery.Name); label != "" {
		g.taskRecords(t, label, fname, taskIPs, agentIPs)
	} else {
		g.b.warn(fmt.Sprintf("task %q: discovery name sanitises to nothing", t.ID))
	}
}

// taskRecords adds the records of one task under label.
func (g *generator) taskRecords(t mesos.Task, label, fname string, taskIPs, agentIPs []netip.Addr) {
	short := label + "." + fname
	canonical := canonicalLabel(label, t) + "." + fname
	for _, ip := range taskIPs {
		g.b.addIP(short+g.dom, ip)
		g.b.addIP(canonical+g.dom, ip)
	}
	for _, ip := range agentIPs {
		g.b.addIP(short+agentSubdomain+g.dom, ip)
		g.b.addIP(canonical+agentSubdomain+g.dom, ip)
	}

	// Port resources: agent ports, so the target is the .slave name; both
	// protocols. Tasks with a DiscoveryInfo name publish these only under
	// .slave, since their DiscoveryInfo ports describe the task's own view.
	ports, err := t.Resources.PortList()
	if err != nil {
		g.b.warn(fmt.Sprintf("task %q: %v", t.ID, err))
	}
	agentTarget := canonical + agentSubdomain + g.dom
	for _, p := range ports {
		for _, proto := range []string{protoTCP, protoUDP} {
			srv := "_" + label + "._" + proto + "." + fname
			g.b.addSRV(srv+agentSubdomain+g.dom, agentTarget, p)
			if !t.HasDiscoveryName() {
				g.b.addSRV(srv+g.dom, agentTarget, p)
			}
		}
	}
	if t.HasDiscoveryName() {
		g.discoveryPorts(t, label, fname, canonical+g.dom)
	}
}

// maxPort is the largest port number.
const maxPort = 1<<16 - 1

// discoveryPorts adds _<task>._<proto>.<framework>.<domain> for each
// DiscoveryInfo port (both protocols when none is given), and the same
// prefixed with _<portname>. for named ports.
func (g *generator) discoveryPorts(t mesos.Task, label, fname, target string) {
	for _, dp := range t.Discovery.Ports.Ports {
		if dp.Number < 0 || dp.Number > maxPort {
			g.b.warn(fmt.Sprintf("task %q: discovery port %d not in [0, %d]", t.ID, dp.Number, maxPort))
			continue
		}
		protos := []string{protoTCP, protoUDP}
		if p := g.spec.Label(dp.Protocol); p != "" {
			protos = []string{p}
		}
		portName := g.spec.Label(dp.Name)
		for _, proto := range protos {
			srv := "_" + label + "._" + proto + "." + fname + g.dom
			g.b.addSRV(srv, target, uint16(dp.Number))
			if portName != "" {
				g.b.addSRV("_"+portName+"."+srv, target, uint16(dp.Number))
			}
		}
	}
}

// taskIPs returns the addresses of the first of sources that has any, all
// of them in its order, as Mesos-DNS's Task.IPs; container sources read
// only the latest TASK_RUNNING status.
func taskIPs(t mesos.Task, sources []string, agentIPs []netip.Addr) []netip.Addr {
	status, running := t.LatestRunningStatus()
	for _, src := range sources {
		var ips []netip.Addr
		switch src {
		case SourceHost:
			ips = agentIPs
		case SourceMesos, SourceDocker, SourceNetinfo:
			if running {
				ips = parseIPs(statusIPs(status, src))
			}
		}
		if len(ips) > 0 {
			return ips
		}
	}
	return nil
}

// statusIPs returns the textual addresses one container source reports.
func statusIPs(s mesos.Status, src string) []string {
	switch src {
	case SourceMesos:
		return s.LabelValues(mesos.MesosIPLabel)
	case SourceDocker:
		return s.LabelValues(mesos.DockerIPLabel)
	case SourceNetinfo:
		return s.NetworkIPs()
	}
	return nil
}

// parseIPs parses addresses as Go's net.ParseIP does for Mesos-DNS: no
// surrounding space, no zone; IPv4-mapped addresses are IPv4. Others are
// dropped.
func parseIPs(texts []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range texts {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
			out = append(out, ip.Unmap())
		}
	}
	return out
}
