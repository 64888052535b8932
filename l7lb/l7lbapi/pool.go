package l7lbapi

import (
	"strconv"
	"strings"
)

// APIVersion is the only pool document version (Edge-LB's V2 layout).
const APIVersion = "V2"

// Frontend protocols.
const (
	ProtoHTTP  = "HTTP"  // plain HTTP, routed by Host header and path
	ProtoHTTPS = "HTTPS" // HTTP over TLS terminated here, routed by SNI/Host and path
	ProtoTCP   = "TCP"   // plain TCP, to the default backend
	ProtoTLS   = "TLS"   // TCP over TLS terminated here, routed by SNI
)

// Endpoint types: which address of a task a backend server uses.
const (
	// EndpointAutoIP is the agent IP and host port when the port is
	// mapped to the host, else the container IP and port (the default).
	EndpointAutoIP = "AUTO_IP"
	// EndpointAgentIP is always the agent IP and host port.
	EndpointAgentIP = "AGENT_IP"
	// EndpointContainerIP is always the container IP and container port.
	EndpointContainerIP = "CONTAINER_IP"
)

// Pool is one pool document.
type Pool struct {
	// APIVersion is "V2" (filled in when empty).
	APIVersion string `json:"apiVersion"`
	// Name is a DNS label: lower-case letters, digits and '-', at most
	// 63 characters.
	Name    string  `json:"name"`
	HAProxy HAProxy `json:"haproxy"`
}

// HAProxy is what the pool's HAProxy instances serve.
type HAProxy struct {
	Frontends []Frontend `json:"frontends"`
	Backends  []Backend  `json:"backends"`
}

// Frontend is one listening socket.
type Frontend struct {
	// Name is unique in the pool (default frontend_<bindAddress>_<bindPort>).
	Name string `json:"name"`
	// BindAddress is an IP address; "" or "0.0.0.0" (the default) binds
	// every address.
	BindAddress string `json:"bindAddress"`
	BindPort    int    `json:"bindPort"`
	// Protocol is HTTP, HTTPS, TCP or TLS.
	Protocol string `json:"protocol"`
	// Certificates are PEM files (chain and key) on the node, required
	// for HTTPS and TLS; the first is the default, the others are chosen
	// by SNI.
	Certificates []string `json:"certificates,omitempty"`
	// RedirectToHTTPS answers every request with a redirect to https
	// (HTTP frontends). Edge-LB's object form {} is accepted.
	RedirectToHTTPS bool        `json:"redirectToHttps,omitempty"`
	LinkBackend     LinkBackend `json:"linkBackend"`
}

// LinkBackend routes a frontend's traffic.
type LinkBackend struct {
	// DefaultBackend gets what no rule matches; empty: HTTP answers 503,
	// TCP closes.
	DefaultBackend string `json:"defaultBackend,omitempty"`
	// Map rules, tried most specific first.
	Map []Rule `json:"map,omitempty"`
}

// Rule sends requests matching HostEq (and PathBeg) to Backend.
type Rule struct {
	// HostEq is matched case-insensitively against the Host header (HTTP)
	// or SNI (HTTPS, TLS); "*.example.com" matches one label; empty
	// matches any host.
	HostEq string `json:"hostEq,omitempty"`
	// PathBeg is a path prefix starting with '/' (HTTP, HTTPS).
	PathBeg string `json:"pathBeg,omitempty"`
	Backend string `json:"backend"`
}

// Backend is a set of servers selected from services.
type Backend struct {
	// Name is unique in the pool.
	Name string `json:"name"`
	// Protocol is HTTP or TCP; HTTP and HTTPS frontends route to HTTP
	// backends, TCP and TLS frontends to TCP ones.
	Protocol string `json:"protocol"`
	// Balance is roundrobin (default), leastconn, source, first or random.
	Balance string `json:"balance"`
	// Sticky pins a client to a server with a cookie (HTTP).
	Sticky bool `json:"sticky,omitempty"`
	// HealthCheck, when set, makes HAProxy check every server.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Services select the servers; their union is the backend.
	Services []Service `json:"services"`
}

// HealthCheck is an active check of every server of a backend.
type HealthCheck struct {
	// Protocol is HTTP (GET Path, 2xx or 3xx is healthy) or TCP (connect).
	Protocol string `json:"protocol"`
	// Path of an HTTP check (default "/").
	Path string `json:"path,omitempty"`
	// IntervalSeconds between checks (0: 2 s), TimeoutSeconds of one
	// check (0: the interval).
	IntervalSeconds int `json:"intervalSeconds,omitempty"`
	TimeoutSeconds  int `json:"timeoutSeconds,omitempty"`
	// Rise and Fall are the consecutive results that change a server's
	// state (0: 2 and 3).
	Rise int `json:"rise,omitempty"`
	Fall int `json:"fall,omitempty"`
}

// Service selects servers by exactly one of Marathon, Mesos, VIP or
// EndpointLabel.
type Service struct {
	// Marathon selects the tasks of one Marathon app.
	Marathon *MarathonService `json:"marathon,omitempty"`
	// Mesos selects tasks of any framework from the Mesos operator API.
	Mesos *MesosService `json:"mesos,omitempty"`
	// VIP selects the backends of a dcnet VIP, written as in a VIP label:
	// "/web:80" (named, framework marathon) or "11.1.1.1:80".
	VIP string `json:"vip,omitempty"`
	// EndpointLabel selects dcnet endpoint records (CNI and Docker
	// containers) by one of their labels.
	EndpointLabel *LabelSelector `json:"endpointLabel,omitempty"`
	// Endpoint says which port and address of a selected task to use.
	Endpoint Endpoint `json:"endpoint"`
	// Weight of every server of this service in [1, 256] (0: 1), for
	// canaries: two services of one backend weighted 9 and 1 take 90 %
	// and 10 % of the traffic per server.
	Weight int `json:"weight,omitempty"`
}

// MarathonService selects a Marathon app by its ID ("/web").
type MarathonService struct {
	ServiceID string `json:"serviceID"`
}

// MesosService selects tasks by framework and task name: exact names or
// Go regular expressions (patterns match anywhere unless anchored).
type MesosService struct {
	FrameworkName        string `json:"frameworkName,omitempty"`
	FrameworkNamePattern string `json:"frameworkNamePattern,omitempty"`
	TaskName             string `json:"taskName,omitempty"`
	TaskNamePattern      string `json:"taskNamePattern,omitempty"`
}

// LabelSelector matches endpoint records whose label Key has Value.
type LabelSelector struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Endpoint picks a port and address of a selected task.
type Endpoint struct {
	// Type is AUTO_IP (default), AGENT_IP or CONTAINER_IP.
	Type string `json:"type"`
	// PortName is the name of the port (Marathon port definition or port
	// mapping name, Mesos discovery port name); empty: the first port.
	// Marathon and Mesos services only.
	PortName string `json:"portName,omitempty"`
	// Port is the container port of endpointLabel services (required
	// there, not allowed elsewhere).
	Port int `json:"port,omitempty"`
}

// DefaultFrontendName is a frontend's name when the document gives none.
func DefaultFrontendName(bindAddress string, bindPort int) string {
	if bindAddress == "" {
		bindAddress = "0.0.0.0"
	}
	return "frontend_" + bindAddress + "_" + strconv.Itoa(bindPort)
}

// normalize fills the defaults in and upper-cases the enumerations, so
// that two spellings of one pool are one stored document.
func (p *Pool) normalize() {
	if p.APIVersion == "" {
		p.APIVersion = APIVersion
	}
	for i := range p.HAProxy.Frontends {
		f := &p.HAProxy.Frontends[i]
		f.Protocol = strings.ToUpper(f.Protocol)
		if f.BindAddress == "" || f.BindAddress == "*" {
			f.BindAddress = "0.0.0.0"
		}
		if f.Name == "" {
			f.Name = DefaultFrontendName(f.BindAddress, f.BindPort)
		}
		for j := range f.LinkBackend.Map {
			f.LinkBackend.Map[j].HostEq = strings.ToLower(f.LinkBackend.Map[j].HostEq)
		}
	}
	for i := range p.HAProxy.Backends {
		b := &p.HAProxy.Backends[i]
		b.Protocol = strings.ToUpper(b.Protocol)
		b.Balance = strings.ToLower(b.Balance)
		if b.Balance == "" {
			b.Balance = "roundrobin"
		}
		if b.HealthCheck != nil {
			b.HealthCheck.Protocol = strings.ToUpper(b.HealthCheck.Protocol)
			if b.HealthCheck.Protocol == ProtoHTTP && b.HealthCheck.Path == "" {
				b.HealthCheck.Path = "/"
			}
		}
		for j := range b.Services {
			s := &b.Services[j]
			s.Endpoint.Type = strings.ToUpper(s.Endpoint.Type)
			if s.Endpoint.Type == "" {
				s.Endpoint.Type = EndpointAutoIP
			}
		}
	}
}

// Backend returns the backend of p named name.
func (p *Pool) Backend(name string) (*Backend, bool) {
	for i := range p.HAProxy.Backends {
		if p.HAProxy.Backends[i].Name == name {
			return &p.HAProxy.Backends[i], true
		}
	}
	return nil, false
}
