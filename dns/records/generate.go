package records

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/dns/mesos"
)

// Fixed labels of the Mesos-DNS zone.
const (
	leaderLabel    = "leader"
	masterLabel    = "master"
	agentLabel     = "slave"
	frameworkSRV   = "_framework._tcp."
	agentSRV       = "_slave._tcp."
	leaderTCPSRV   = "_leader._tcp."
	leaderUDPSRV   = "_leader._udp."
	protoTCP       = "tcp"
	protoUDP       = "udp"
	agentSubdomain = ".slave"
)

// generator carries one Generate call's settings and output.
type generator struct {
	cfg  Config
	spec Spec
	// dom is the zone with dots at both ends, ".mesos.".
	dom string
	b   *builder
	// lookups memoises LookupHost by host name.
	lookups map[string][]netip.Addr
}

// Generate computes the Mesos-DNS records of a master state: leader, master
// and masterN, slave, frameworks and running tasks with their SRV records
// (see the package documentation for the rules). It fails on an invalid
// configuration or a state without a usable leader; problems with single
// frameworks, agents or tasks skip their records and are listed in
// RecordSet.Warnings.
func Generate(st mesos.State, cfg Config) (RecordSet, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return RecordSet{}, fmt.Errorf("generate records: %w", err)
	}
	g := &generator{cfg: cfg, spec: cfg.Spec(), dom: "." + strings.ToLower(cfg.Domain) + ".", b: newBuilder()}
	leader, err := g.leader(st.Leader)
	if err != nil {
		return RecordSet{}, fmt.Errorf("generate records: %w", err)
	}
	_, leaderText, _ := strings.Cut(st.Leader, "@")
	g.frameworks(st.Frameworks)
	agents := g.agents(st.Agents)
	g.nameServer()
	g.masters(leader, leaderText, cfg.Masters)
	g.tasks(st.Frameworks, agents)
	return g.b.recordSet(), nil
}

// leader parses the leader PID into an address; a host name is resolved
// with LookupHost when configured.
func (g *generator) leader(pid string) (netip.AddrPort, error) {
	if pid == "" {
		return netip.AddrPort{}, errors.New("state has no leader")
	}
	p, err := mesos.ParsePID(pid)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("leader: %w", err)
	}
	ips := g.hostIPs(p.Host)
	if len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("leader %q: host %q is not an IP address and cannot be resolved", pid, p.Host)
	}
	ip := ips[0] // a host name resolved: its first IPv4 address if any
	for _, a := range ips {
		if a.Is4() {
			ip = a
			break
		}
	}
	return netip.AddrPortFrom(ip, p.Port), nil
}

// hostIPs returns host as an address, or every address LookupHost finds
// for it, in its order, as Mesos-DNS's hostToIPs does with the system
// resolver. Lookups are made once per Generate call and host.
func (g *generator) hostIPs(host string) []netip.Addr {
	if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" {
		return []netip.Addr{ip.Unmap()}
	}
	if g.cfg.LookupHost == nil {
		return nil
	}
	if ips, ok := g.lookups[host]; ok {
		return ips
	}
	var ips []netip.Addr
	for _, ip := range g.cfg.LookupHost(host) {
		if ip.IsValid() {
			ips = append(ips, ip.Unmap().WithZone(""))
		}
	}
	if g.lookups == nil {
		g.lookups = map[string][]netip.Addr{}
	}
	g.lookups[host] = ips
	return ips
}

// frameworks adds <framework>.<domain> for each scheduler address and
// _framework._tcp.<framework>.<domain> for its PID port.
func (g *generator) frameworks(fws []mesos.Framework) {
	for _, f := range fws {
		fname := g.spec.DomainFrag(f.Name)
		if fname == "" {
			g.b.warn(fmt.Sprintf("framework %q: name sanitises to nothing", f.Name))
			continue
		}
		host, port, hasPort := f.Hostname, uint16(0), false
		if f.PID != "" {
			p, err := mesos.ParsePID(f.PID)
			if err != nil {
				g.b.warn(fmt.Sprintf("framework %q: %v", f.Name, err))
			} else {
				host, port, hasPort = p.Host, p.Port, true
			}
		}
		ips := g.hostIPs(host)
		name := fname + g.dom
		for _, ip := range ips {
			g.b.addIP(name, ip)
		}
		if len(ips) > 0 && hasPort {
			g.b.addSRV(frameworkSRV+name, name, port)
		}
	}
}

// agents adds slave.<domain> and _slave._tcp.<domain> and returns every
// known agent's addresses (possibly none) by agent ID.
func (g *generator) agents(agents []mesos.Agent) map[string][]netip.Addr {
	byID := make(map[string][]netip.Addr, len(agents))
	name := agentLabel + g.dom
	for _, a := range agents {
		host, port, hasPort := a.Hostname, uint16(0), false
		if p, err := mesos.ParsePID(a.PID); err != nil {
			g.b.warn(fmt.Sprintf("agent %q: %v; using hostname %q", a.ID, err, a.Hostname))
		} else {
			host, port, hasPort = p.Host, p.Port, true
		}
		ips := g.hostIPs(host)
		for _, ip := range ips {
			g.b.addIP(name, ip)
		}
		if len(ips) > 0 && hasPort {
			g.b.addSRV(agentSRV+strings.TrimPrefix(g.dom, "."), name, port)
		}
		if len(ips) == 0 {
			g.b.warn(fmt.Sprintf("agent %q: host %q has no address", a.ID, host))
		}
		byID[a.ID] = ips
	}
	return byID
}

// nameServer adds the SOA mname's addresses.
func (g *generator) nameServer() {
	if g.cfg.SOAMname == "" {
		return
	}
	// As Mesos-DNS's initSOA: one trailing dot, letter case kept.
	name := strings.TrimRight(g.cfg.SOAMname, ".") + "."
	for _, ip := range g.cfg.Listeners {
		g.b.addIP(name, ip)
	}
}

// masters adds leader.<domain>, master.<domain> (every master), masterN
// (masters in order, the leader appended when absent) and the
// _leader._tcp/_udp SRV records, following Mesos-DNS's masterRecord.
func (g *generator) masters(leader netip.AddrPort, leaderText string, masters []string) {
	leaderName := leaderLabel + g.dom
	allName := masterLabel + g.dom
	g.b.addIP(leaderName, leader.Addr())
	g.b.addIP(allName, leader.Addr())
	zone := strings.TrimPrefix(g.dom, ".")
	g.b.addSRV(leaderTCPSRV+zone, leaderName, leader.Port())
	g.b.addSRV(leaderUDPSRV+zone, leaderName, leader.Port())

	// Masters are told from the leader by their text, as Mesos-DNS
	// compares them: "10.0.0.1:5050" against leaderText, the leader PID's
	// part after '@'.
	addedLeader := false
	idx := 0
	for _, m := range masters {
		host, _, err := mesos.SplitHostPort(m)
		if err != nil {
			g.b.warn(fmt.Sprintf("master %q: %v", m, err))
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			g.b.warn(fmt.Sprintf("master %q: host is not an IP address", m))
			continue
		}
		ip = ip.Unmap().WithZone("")
		isLeader := m == leaderText
		if !isLeader && !g.b.addIP(allName, ip) {
			continue // a duplicate master
		}
		if isLeader && addedLeader {
			continue // the leader listed twice
		}
		g.b.addIP(masterLabel+strconv.Itoa(idx)+g.dom, ip)
		idx++
		addedLeader = addedLeader || isLeader
	}
	if !addedLeader {
		g.b.addIP(masterLabel+strconv.Itoa(idx)+g.dom, leader.Addr())
	}
}
