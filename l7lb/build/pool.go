package build

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/mesos"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/marathon"
	"github.com/dcnet/dcnet/l7lb/model"
)

// BuildPool builds the configuration of one pool. The pool is taken as
// valid (l7lbapi.ParsePool checked it); what the sources lack (an app
// without the named port, a certificate that does not load) is a
// Problem, and the frontend or service at fault is left out.
func BuildPool(p l7lbapi.Pool, in Inputs) Output {
	var out Output
	c := newCerts(in.ReadFile)
	apps := map[string]*marathon.App{}
	for i := range in.Apps {
		apps[in.Apps[i].ID] = &in.Apps[i]
	}
	for _, b := range p.HAProxy.Backends {
		mode := model.ModeTCP
		if b.Protocol == l7lbapi.ProtoHTTP {
			mode = model.ModeHTTP
		}
		mb := model.Backend{Name: b.Name, Mode: mode, Balance: b.Balance, Sticky: b.Sticky,
			Health: poolCheck(b.HealthCheck), Source: "pool:" + p.Name, Servers: []model.Server{}}
		seen := map[netip.AddrPort]bool{}
		for i, s := range b.Services {
			servers, err := poolServers(s, apps, in)
			if err != nil {
				out.problem(kindBackend, b.Name, "services[%d]: %v", i, err)
				continue
			}
			for _, srv := range servers {
				if seen[srv.Addr] {
					continue // selected twice: the first service's weight counts
				}
				seen[srv.Addr] = true
				srv.Weight = max(s.Weight, model.DefaultWeight)
				mb.Servers = append(mb.Servers, srv)
			}
		}
		out.Config.Backends = append(out.Config.Backends, mb)
	}
	for _, f := range p.HAProxy.Frontends {
		fe, err := poolFrontend(f, c, &out)
		if err != nil {
			out.problem(kindFrontend, f.Name, "%v", err)
			continue
		}
		out.Config.Frontends = append(out.Config.Frontends, fe)
	}
	out.Config.Normalize()
	return out
}

func poolFrontend(f l7lbapi.Frontend, c *certs, out *Output) (model.Frontend, error) {
	addr, _ := netip.ParseAddr(f.BindAddress)
	fe := model.Frontend{Name: f.Name, Bind: bind(addr, f.BindPort), Mode: model.ModeTCP,
		RedirectToHTTPS: f.RedirectToHTTPS, Default: f.LinkBackend.DefaultBackend}
	if f.Protocol == l7lbapi.ProtoHTTP || f.Protocol == l7lbapi.ProtoHTTPS {
		fe.Mode = model.ModeHTTP
	}
	for _, r := range f.LinkBackend.Map {
		fe.Routes = append(fe.Routes, model.Route{Host: r.HostEq, PathPrefix: r.PathBeg, Backend: r.Backend})
	}
	if len(f.Certificates) > 0 {
		fe.TLS = &model.TLS{}
		for _, path := range f.Certificates {
			cert, err := c.load(path)
			if err != nil {
				out.problem(kindCert, CertName(path), "frontend %s: %v", f.Name, err)
				continue
			}
			fe.TLS.Certs = append(fe.TLS.Certs, cert)
		}
		if len(fe.TLS.Certs) == 0 {
			return model.Frontend{}, fmt.Errorf("no usable certificate (of %d): a %s frontend cannot bind without one", len(f.Certificates), f.Protocol)
		}
	}
	return fe, nil
}

// poolServers are the servers one service selects (weights are set by
// the caller).
func poolServers(s l7lbapi.Service, apps map[string]*marathon.App, in Inputs) ([]model.Server, error) {
	switch {
	case s.Marathon != nil:
		a, ok := apps[s.Marathon.ServiceID]
		if !ok {
			return nil, nil // not deployed (yet): no servers
		}
		i, err := portIndex(marathon.PortNames(a), s.Endpoint.PortName, "app "+a.ID)
		if err != nil {
			return nil, err
		}
		return marathonServers(a, i, s.Endpoint.Type), nil
	case s.Mesos != nil:
		return mesosServers(s, in.Tasks)
	case s.VIP != "":
		return vipServers(s.VIP, in.VIPs)
	case s.EndpointLabel != nil:
		return endpointServers(s, in.Endpoints), nil
	}
	return nil, fmt.Errorf("no selector")
}

// portIndex finds a port by name; "" is the first port.
func portIndex(names []string, name, of string) (int, error) {
	if name == "" {
		return 0, nil
	}
	if i := slices.Index(names, name); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("%s has no port named %q (its ports: %s)", of, name, quoteAll(names))
}

func quoteAll(names []string) string {
	if len(names) == 0 {
		return "none named"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// marathonAddr is where a Marathon task serves port index i for an
// endpoint type ("" and AUTO_IP: as Marathon-LB reaches it).
func marathonAddr(a *marathon.App, t *marathon.Task, i int, typ string) (netip.Addr, int) {
	switch typ {
	case l7lbapi.EndpointAgentIP:
		if i < len(t.Ports) {
			return t.HostIP, t.Ports[i]
		}
	case l7lbapi.EndpointContainerIP:
		if ps := marathon.ContainerPorts(a); i < len(ps) {
			return marathon.FirstTaskIP(t), ps[i]
		}
	default:
		if ps := marathon.TaskPorts(a, t); i < len(ps) {
			return marathon.TaskIP(a, t), ps[i]
		}
	}
	return netip.Addr{}, 0
}

// matcher matches a name exactly and/or by a regular expression.
type matcher struct {
	exact string
	re    *regexp.Regexp
}

func newMatcher(exact, pattern string) (matcher, error) {
	m := matcher{exact: exact}
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return m, fmt.Errorf("pattern %q: %w", pattern, err)
		}
		m.re = re
	}
	return m, nil
}

func (m matcher) match(name string) bool {
	return (m.exact == "" || name == m.exact) && (m.re == nil || m.re.MatchString(name))
}

func mesosServers(s l7lbapi.Service, tasks []mesos.Summary) ([]model.Server, error) {
	m := s.Mesos
	fw, err := newMatcher(m.FrameworkName, m.FrameworkNamePattern)
	if err != nil {
		return nil, err
	}
	tn, err := newMatcher(m.TaskName, m.TaskNamePattern)
	if err != nil {
		return nil, err
	}
	var out []model.Server
	for _, t := range tasks {
		if !fw.match(t.Framework) || !tn.match(t.Name) {
			continue
		}
		if t.State != mesos.StateRunning && t.State != mesos.StateKilling {
			continue
		}
		var port *mesos.TaskPort
		for i := range t.Ports {
			if s.Endpoint.PortName == "" || t.Ports[i].Name == s.Endpoint.PortName {
				port = &t.Ports[i]
				break
			}
		}
		if port == nil || port.Protocol != vip.ProtoTCP {
			continue
		}
		ip, p := t.AgentIP, port.HostPort
		taskIP := t.AgentIP
		if len(t.TaskIPs) > 0 {
			taskIP = t.TaskIPs[0]
		}
		switch {
		case s.Endpoint.Type == l7lbapi.EndpointContainerIP || (s.Endpoint.Type == l7lbapi.EndpointAutoIP && p == 0):
			ip, p = taskIP, port.Port
		}
		if !ip.IsValid() || p == 0 {
			continue
		}
		out = append(out, model.Server{Key: "mesos:" + t.TaskID + ":" + port.Name + ":" + strconv.Itoa(int(p)),
			Addr: netip.AddrPortFrom(ip, p), Draining: t.State == mesos.StateKilling || !t.Healthy})
	}
	return out, nil
}

func vipServers(spec string, bindings []vip.Binding) ([]model.Server, error) {
	v, err := vip.ParseValue(spec, vip.ProtoTCP, vip.EndpointFramework)
	if err != nil {
		return nil, err
	}
	key := v.Key()
	var out []model.Server
	for _, b := range bindings {
		if b.VIP.Key() != key {
			continue
		}
		out = append(out, model.Server{Key: "vip:" + b.Backend.Task + ":" + b.Backend.AddrPort().String(),
			Addr: b.Backend.AddrPort(), Draining: b.Backend.Draining || !b.Backend.Healthy})
	}
	return out, nil
}

func endpointServers(s l7lbapi.Service, eps []cluster.Endpoint) []model.Server {
	l := s.EndpointLabel
	port := s.Endpoint.Port
	var out []model.Server
	for _, ep := range eps {
		if v, ok := ep.Labels[l.Key]; !ok || v != l.Value {
			continue
		}
		var ip netip.Addr
		p := 0
		hostPort := 0
		for _, pm := range ep.PortMappings {
			if pm.ContainerPort == port && pm.HostPort > 0 && (pm.Protocol == "" || strings.EqualFold(pm.Protocol, vip.ProtoTCP)) {
				hostPort = pm.HostPort
			}
		}
		nodeIP, _ := netip.ParseAddr(ep.NodeIP)
		switch {
		case s.Endpoint.Type == l7lbapi.EndpointAgentIP || (s.Endpoint.Type == l7lbapi.EndpointAutoIP && hostPort > 0):
			ip, p = nodeIP, hostPort
		default:
			ip, p = containerIP(ep), port
		}
		if !ip.IsValid() || p <= 0 || p > 65535 {
			continue
		}
		out = append(out, model.Server{Key: "endpoint:" + ep.Node + "/" + ep.ID() + ":" + strconv.Itoa(port),
			Addr: netip.AddrPortFrom(ip.Unmap(), uint16(p))})
	}
	return out
}

// containerIP is an endpoint's first IPv4 address, else its first.
func containerIP(ep cluster.Endpoint) netip.Addr {
	var first netip.Addr
	for _, c := range ep.IPs {
		p, err := netip.ParsePrefix(c.Address)
		if err != nil {
			continue
		}
		if p.Addr().Is4() {
			return p.Addr()
		}
		if !first.IsValid() {
			first = p.Addr()
		}
	}
	return first
}
