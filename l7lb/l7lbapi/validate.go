package l7lbapi

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Bounds of the numeric fields.
const (
	maxNameLen       = 63
	maxWeight        = 256
	maxCheckInterval = 3600
	maxRiseFall      = 100
)

// Balance algorithms a backend may name.
var balances = map[string]bool{"roundrobin": true, "leastconn": true, "source": true, "first": true, "random": true}

var (
	poolNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	objNameRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	hostRE     = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// ValidPoolName reports why name cannot name a pool ("" when it can).
func ValidPoolName(name string) string {
	switch {
	case name == "":
		return "missing: want a DNS label such as web"
	case len(name) > maxNameLen || !poolNameRE.MatchString(name):
		return fmt.Sprintf("%q: want lower-case letters, digits and '-', at most %d characters, not starting or ending with '-'", name, maxNameLen)
	}
	return ""
}

// validate checks a normalized pool and returns every problem.
func (p *Pool) validate() []FieldError {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if p.APIVersion != APIVersion {
		bad("apiVersion", "%q: want %q", p.APIVersion, APIVersion)
	}
	if msg := ValidPoolName(p.Name); msg != "" {
		bad("name", "%s", msg)
	}
	backends := map[string]string{} // name -> protocol
	for i, b := range p.HAProxy.Backends {
		path := index("haproxy.backends", i)
		switch {
		case b.Name == "":
			bad(join(path, "name"), "missing")
		case !objNameRE.MatchString(b.Name) || len(b.Name) > maxNameLen:
			bad(join(path, "name"), "%q: want letters, digits, '_', '.' and '-', at most %d characters", b.Name, maxNameLen)
		default:
			if _, dup := backends[b.Name]; dup {
				bad(join(path, "name"), "%q is the name of another backend", b.Name)
			}
		}
		if b.Name != "" {
			backends[b.Name] = b.Protocol
		}
		errs = append(errs, b.validate(path)...)
	}
	if len(p.HAProxy.Frontends) == 0 {
		bad("haproxy.frontends", "missing: a pool needs at least one frontend")
	}
	if len(p.HAProxy.Backends) == 0 {
		bad("haproxy.backends", "missing: a pool needs at least one backend")
	}
	names := map[string]bool{}
	binds := map[string]int{}
	for i, f := range p.HAProxy.Frontends {
		path := index("haproxy.frontends", i)
		switch {
		case !objNameRE.MatchString(f.Name) || len(f.Name) > 2*maxNameLen:
			bad(join(path, "name"), "%q: want letters, digits, '_', '.' and '-'", f.Name)
		case names[f.Name]:
			bad(join(path, "name"), "%q is the name of another frontend", f.Name)
		}
		names[f.Name] = true
		if f.BindPort >= 1 && f.BindPort <= 65535 {
			key := f.BindAddress + " " + strconv.Itoa(f.BindPort)
			if j, dup := binds[key]; dup {
				bad(join(path, "bindPort"), "%s:%d is also bound by haproxy.frontends[%d]", f.BindAddress, f.BindPort, j)
			}
			binds[key] = i
		}
		errs = append(errs, f.validate(path, backends)...)
	}
	return errs
}

func (f *Frontend) validate(path string, backends map[string]string) []FieldError {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: join(path, field), Message: fmt.Sprintf(format, args...)})
	}
	if a, err := netip.ParseAddr(f.BindAddress); err != nil || a.Zone() != "" {
		bad("bindAddress", "%q: want an IP address, or 0.0.0.0 for every address", f.BindAddress)
	}
	if f.BindPort < 1 || f.BindPort > 65535 {
		bad("bindPort", "%d out of range [1, 65535]", f.BindPort)
	}
	tls := f.Protocol == ProtoHTTPS || f.Protocol == ProtoTLS
	http := f.Protocol == ProtoHTTP || f.Protocol == ProtoHTTPS
	known := true
	switch f.Protocol {
	case ProtoHTTP, ProtoHTTPS, ProtoTCP, ProtoTLS:
	case "":
		known = false
		bad("protocol", "missing: want HTTP, HTTPS, TCP or TLS")
	default:
		known = false
		bad("protocol", "%q: want HTTP, HTTPS, TCP or TLS", f.Protocol)
	}
	switch {
	case tls && len(f.Certificates) == 0:
		bad("certificates", "missing: a %s frontend needs at least one PEM file (certificate chain and key)", f.Protocol)
	case !tls && len(f.Certificates) > 0 && known:
		bad("certificates", "only HTTPS and TLS frontends take certificates, this one is %s", f.Protocol)
	}
	for i, c := range f.Certificates {
		if !filepath.IsAbs(c) || filepath.Clean(c) != c {
			bad(index("certificates", i), "%q: want the absolute, clean path of a PEM file on the node", c)
		}
	}
	if f.RedirectToHTTPS && f.Protocol != ProtoHTTP {
		bad("redirectToHttps", "only HTTP frontends redirect to https, this one is %s", f.Protocol)
	}
	want := ProtoTCP
	if http {
		want = ProtoHTTP
	}
	link := func(field, name string) {
		proto, ok := backends[name]
		switch {
		case !ok:
			bad(field, "backend %q does not exist", name)
		case (proto == ProtoHTTP || proto == ProtoTCP) && proto != want && known:
			bad(field, "backend %q is %s: a %s frontend routes to %s backends", name, proto, f.Protocol, want)
		}
	}
	lb := f.LinkBackend
	if lb.DefaultBackend != "" {
		link("linkBackend.defaultBackend", lb.DefaultBackend)
	}
	if lb.DefaultBackend == "" && len(lb.Map) == 0 && !f.RedirectToHTTPS {
		bad("linkBackend", "missing: give a defaultBackend or map rules")
	}
	if f.Protocol == ProtoTCP && len(lb.Map) > 0 {
		bad("linkBackend.map", "a TCP frontend has no rules (nothing to match on): use defaultBackend, or protocol TLS to route by SNI")
	}
	seen := map[string]int{}
	for i, r := range lb.Map {
		rp := index("linkBackend.map", i)
		if r.HostEq != "" && !hostRE.MatchString(r.HostEq) {
			bad(join(rp, "hostEq"), "%q: want a host name such as web.example.com or *.example.com", r.HostEq)
		}
		if r.PathBeg != "" {
			switch {
			case f.Protocol == ProtoTLS:
				bad(join(rp, "pathBeg"), "a TLS frontend sees no paths: use HTTPS to route by path")
			case !strings.HasPrefix(r.PathBeg, "/") || strings.ContainsAny(r.PathBeg, " \t\r\n"):
				bad(join(rp, "pathBeg"), "%q: want a path starting with '/' and without spaces", r.PathBeg)
			}
		}
		if f.Protocol == ProtoTLS && r.HostEq == "" {
			bad(join(rp, "hostEq"), "missing: a TLS frontend routes by SNI host only")
		}
		if r.Backend == "" {
			bad(join(rp, "backend"), "missing")
		} else {
			link(join(rp, "backend"), r.Backend)
		}
		key := r.HostEq + " " + r.PathBeg
		if j, dup := seen[key]; dup {
			bad(rp, "same hostEq and pathBeg as linkBackend.map[%d]", j)
		}
		seen[key] = i
	}
	return errs
}

func (b *Backend) validate(path string) []FieldError {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: join(path, field), Message: fmt.Sprintf(format, args...)})
	}
	switch b.Protocol {
	case ProtoHTTP, ProtoTCP:
	case "":
		bad("protocol", "missing: want HTTP or TCP")
	default:
		bad("protocol", "%q: want HTTP or TCP (TLS is terminated on the frontend)", b.Protocol)
	}
	if !balances[b.Balance] {
		bad("balance", "%q: want roundrobin, leastconn, source, first or random", b.Balance)
	}
	if b.Sticky && b.Protocol == ProtoTCP {
		bad("sticky", "sticky sessions use a cookie: only HTTP backends; use balance source for TCP")
	}
	if hc := b.HealthCheck; hc != nil {
		switch hc.Protocol {
		case ProtoHTTP:
			if !strings.HasPrefix(hc.Path, "/") || strings.ContainsAny(hc.Path, " \t\r\n") {
				bad("healthCheck.path", "%q: want a path starting with '/' and without spaces", hc.Path)
			}
		case ProtoTCP:
			if hc.Path != "" {
				bad("healthCheck.path", "a TCP check only connects: remove path or use protocol HTTP")
			}
		default:
			bad("healthCheck.protocol", "%q: want HTTP or TCP", hc.Protocol)
		}
		if hc.IntervalSeconds < 0 || hc.IntervalSeconds > maxCheckInterval {
			bad("healthCheck.intervalSeconds", "%d out of range [0, %d]", hc.IntervalSeconds, maxCheckInterval)
		}
		if hc.TimeoutSeconds < 0 || hc.TimeoutSeconds > maxCheckInterval {
			bad("healthCheck.timeoutSeconds", "%d out of range [0, %d]", hc.TimeoutSeconds, maxCheckInterval)
		}
		if hc.Rise < 0 || hc.Rise > maxRiseFall {
			bad("healthCheck.rise", "%d out of range [0, %d]", hc.Rise, maxRiseFall)
		}
		if hc.Fall < 0 || hc.Fall > maxRiseFall {
			bad("healthCheck.fall", "%d out of range [0, %d]", hc.Fall, maxRiseFall)
		}
	}
	if len(b.Services) == 0 {
		bad("services", "missing: a backend needs at least one service")
	}
	for i, s := range b.Services {
		errs = append(errs, s.validate(join(path, index("services", i)))...)
	}
	return errs
}

func (s *Service) validate(path string) []FieldError {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: join(path, field), Message: fmt.Sprintf(format, args...)})
	}
	n := 0
	for _, set := range []bool{s.Marathon != nil, s.Mesos != nil, s.VIP != "", s.EndpointLabel != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, FieldError{Field: path, Message: fmt.Sprintf("has %d selectors: want exactly one of marathon, mesos, vip, endpointLabel", n)})
	}
	switch s.Endpoint.Type {
	case EndpointAutoIP, EndpointAgentIP, EndpointContainerIP:
	default:
		bad("endpoint.type", "%q: want AUTO_IP, AGENT_IP or CONTAINER_IP", s.Endpoint.Type)
	}
	if s.Weight < 0 || s.Weight > maxWeight {
		bad("weight", "%d out of range [0, %d]", s.Weight, maxWeight)
	}
	if m := s.Marathon; m != nil && (!strings.HasPrefix(m.ServiceID, "/") || strings.ContainsAny(m.ServiceID, " \t")) {
		bad("marathon.serviceID", "%q: want a Marathon app ID such as /web", m.ServiceID)
	}
	if m := s.Mesos; m != nil {
		if m.FrameworkName == "" && m.FrameworkNamePattern == "" {
			bad("mesos", "missing frameworkName or frameworkNamePattern")
		}
		if m.TaskName == "" && m.TaskNamePattern == "" {
			bad("mesos", "missing taskName or taskNamePattern")
		}
		for field, pat := range map[string]string{"frameworkNamePattern": m.FrameworkNamePattern, "taskNamePattern": m.TaskNamePattern} {
			if _, err := regexp.Compile(pat); err != nil {
				bad("mesos."+field, "%q is not a regular expression: %v", pat, err)
			}
		}
	}
	if s.VIP != "" {
		if reason := vipSyntax(s.VIP); reason != "" {
			bad("vip", "%q: %s: want /name:port or ip:port as in a VIP_0 label", s.VIP, reason)
		}
		if s.Endpoint.PortName != "" || s.Endpoint.Port != 0 {
			bad("endpoint", "a vip service takes its ports from the VIP's backends: remove portName and port")
		}
	}
	if l := s.EndpointLabel; l != nil {
		if l.Key == "" {
			bad("endpointLabel.key", "missing")
		}
		if s.Endpoint.Port < 1 || s.Endpoint.Port > 65535 {
			bad("endpoint.port", "%d out of range [1, 65535]: an endpointLabel service names the container port", s.Endpoint.Port)
		}
		if s.Endpoint.PortName != "" {
			bad("endpoint.portName", "endpoint records have no port names: use endpoint.port")
		}
	} else if s.Endpoint.Port != 0 && s.VIP == "" {
		bad("endpoint.port", "only endpointLabel services take a port number: use endpoint.portName")
	}
	return errs
}

// vipSyntax checks a VIP label value (name:port, /name:port,
// /group/name:port, 1.2.3.4:80, [fd01:c::5]:80) and says what is wrong
// ("" when nothing); dcnet-l4lb's label parser is the reference.
func vipSyntax(v string) string {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "missing :port"
	}
	host, port := v[:i], v[i+1:]
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' {
		return fmt.Sprintf("port %q is not in [1, 65535]", port)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	switch a, err := netip.ParseAddr(host); {
	case host == "":
		return "empty name"
	case err == nil && a.Zone() != "":
		return "an IP VIP has no zone"
	case err == nil:
		return ""
	case strings.ContainsRune(host, ':'):
		return "too many colons: not an IP address, and a name holds no ':'"
	case !strings.ContainsAny(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789"):
		return "the name has no DNS-safe characters"
	}
	return ""
}
