package vip

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Protocols a VIP is load-balanced for. TCP and UDP on the same VIP and
// port are two separate VIPs.
const (
	ProtoTCP = "tcp"
	ProtoUDP = "udp"
)

// Zone is the DNS zone of named VIPs.
const Zone = "l4lb.thisdcos.directory"

// VIP is one load-balanced service address as a label declares it: either
// a named VIP (Name set, e.g. "/web", scoped by Framework) or an IP VIP (IP
// set, Name empty), with its port and protocol.
type VIP struct {
	// Name is the named VIP as written in the label ("/web", "web",
	// "/group/web"); empty for an IP VIP.
	Name string
	// Framework scopes a named VIP ("marathon"); it is part of the DNS name.
	Framework string
	// IP is the address of an IP VIP; invalid (zero) for a named VIP.
	IP       netip.Addr
	Port     uint16
	Protocol string
}

// IsNamed reports whether v is a named VIP (its address is allocated by
// l4lb) rather than an IP VIP.
func (v VIP) IsNamed() bool { return v.Name != "" }

// DNSName is the name the VIP resolves under,
// <name>.<framework>.l4lb.thisdcos.directory, with every label sanitised
// (see Sanitize); empty for an IP VIP.
func (v VIP) DNSName() string {
	if !v.IsNamed() {
		return ""
	}
	return DNSName(v.Name, v.Framework)
}

// Key is the identity of v: named VIPs that differ only in spelling
// ("/web" and "web") share a DNS name and therefore one Key.
func (v VIP) Key() Key {
	if v.IsNamed() {
		return Key{Protocol: v.Protocol, Name: v.DNSName(), Port: v.Port}
	}
	return Key{Protocol: v.Protocol, IP: v.IP, Port: v.Port}
}

// String renders v as tcp:///web@marathon:80 or tcp://[fd01:c::5]:8080.
func (v VIP) String() string {
	if v.IsNamed() {
		return v.Protocol + "://" + v.Name + "@" + v.Framework + ":" + strconv.Itoa(int(v.Port))
	}
	return v.Protocol + "://" + netip.AddrPortFrom(v.IP, v.Port).String()
}

// Key identifies one load-balanced service: (VIP, protocol, port). For a
// named VIP the VIP is its DNS name (Name), for an IP VIP its address (IP).
// Key is comparable and is the map key of VIP tables.
type Key struct {
	Protocol string
	// Name is the full DNS name of a named VIP; empty for an IP VIP.
	Name string
	// IP is the address of an IP VIP; invalid for a named VIP.
	IP   netip.Addr
	Port uint16
}

// IsNamed reports whether k names a named VIP.
func (k Key) IsNamed() bool { return k.Name != "" }

// String renders k as tcp://web.marathon.l4lb.thisdcos.directory:80 or
// udp://1.2.3.4:53.
func (k Key) String() string {
	if k.IsNamed() {
		return k.Protocol + "://" + k.Name + ":" + strconv.Itoa(int(k.Port))
	}
	return k.Protocol + "://" + netip.AddrPortFrom(k.IP, k.Port).String()
}

// Backend is one destination of a VIP: a container IP and port, or a node
// IP and host port when the container port is mapped to the host.
type Backend struct {
	IP   netip.Addr
	Port uint16
	// Node names the node (overlayd node name or Mesos agent ID) that runs
	// the backend; NodeIP is its underlay address.
	Node   string
	NodeIP netip.Addr
	// Task names the workload: the Mesos task ID or the overlayd
	// attachment ID.
	Task string
	// Healthy is false when the workload's health check fails; an
	// unhealthy backend drains.
	Healthy bool
	// Draining is true when the workload is terminating (TASK_KILLING): it
	// takes no new connections but keeps its existing ones.
	Draining bool
	// Local, when valid, is where the backend's own node reaches it
	// instead of IP:Port: the task's address and container port behind a
	// host port of that node (a connection gets one destination NAT per
	// hook, so a VIP translated to the node's own host port would never
	// reach the task). dcos-net did the same (local_port_mappings).
	Local netip.AddrPort
}

// AddrPort is the backend's destination.
func (b Backend) AddrPort() netip.AddrPort { return netip.AddrPortFrom(b.IP, b.Port) }

// String renders b as 9.0.1.6:80 (node a1, unhealthy, draining).
func (b Backend) String() string {
	s := b.AddrPort().String()
	if b.Node != "" {
		s += " node " + b.Node
	}
	if !b.Healthy {
		s += " unhealthy"
	}
	if b.Draining {
		s += " draining"
	}
	return s
}

// Binding is one backend of one VIP, as a source (an endpoint record, a
// Mesos task) declares it.
type Binding struct {
	VIP     VIP
	Backend Backend
}

// String renders the binding for logs and test failures.
func (b Binding) String() string { return fmt.Sprintf("%s -> %s", b.VIP, b.Backend) }
