package vip

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/cluster"
)

// EndpointFramework is the framework of named VIPs declared by endpoint
// records (CNI and Docker containers carry no framework). It is Marathon's,
// so that a container labelled VIP_0=/web:80 joins the same VIP,
// web.marathon.l4lb.thisdcos.directory, as a Marathon app /web.
const EndpointFramework = "marathon"

// FromEndpoint returns the VIPs declared by the labels of an overlayd
// endpoint record, each with the endpoint as backend, and one error per
// malformed label (the other labels still count).
//
//   - VIP_<n>=<vip>:<port>: the container serves the VIP port itself. When
//     port mappings forward host ports to that container port, there is
//     one VIP per mapping's protocol; otherwise one TCP VIP.
//   - VIP_PORT<n>=tcp://<vip>:<port>: the VIP is served by the n-th port
//     mapping's container port.
//
// Either way the backends are the container's overlay addresses and its
// container port, not the node IP and host port: an endpoint record's
// addresses are on the overlay, reachable from every node, and a VIP
// translated to the node's own IP and host port would not work from that
// node (a connection gets one destination NAT per hook, so dcnet-l4lb's
// translation to the local host port is never translated again by the
// port mapping). Only an endpoint without a container address falls back
// to the node IP and host port.
func FromEndpoint(ep cluster.Endpoint) ([]Binding, []error) {
	src := endpointSource{ep: ep}
	src.parseAddrs()
	keys := make([]string, 0, len(ep.Labels))
	for k := range ep.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []Binding
	var errs []error
	for _, key := range keys {
		bs, err := src.label(key, ep.Labels[key])
		if err != nil {
			errs = append(errs, fmt.Errorf("endpoint %s on node %s: %w", ep.ID(), ep.Node, err))
			continue
		}
		out = append(out, bs...)
	}
	return Normalize(out), errs
}

type endpointSource struct {
	ep          cluster.Endpoint
	nodeIP      netip.Addr
	containerIP []netip.Addr
}

func (s *endpointSource) parseAddrs() {
	s.nodeIP, _ = netip.ParseAddr(s.ep.NodeIP)
	for _, c := range s.ep.IPs {
		if p, err := netip.ParsePrefix(c.Address); err == nil {
			s.containerIP = append(s.containerIP, p.Addr())
		} else if a, err := netip.ParseAddr(c.Address); err == nil {
			s.containerIP = append(s.containerIP, a)
		}
	}
}

func (s *endpointSource) label(key, value string) ([]Binding, error) {
	if idx, v, ok, err := ParseTaskLabel(key, value, EndpointFramework); ok {
		if err != nil {
			return nil, err
		}
		if idx >= len(s.ep.PortMappings) {
			return nil, &LabelError{Key: key, Value: value,
				Reason: "no port mapping " + strconv.Itoa(idx) + " (endpoint has " + strconv.Itoa(len(s.ep.PortMappings)) + ")"}
		}
		pm := s.ep.PortMappings[idx]
		if pm.HostPort > 0 && len(s.containerIP) == 0 {
			return s.hostBackend(key, value, v, pm.HostPort)
		}
		return s.containerBackends(key, value, v, pm.ContainerPort)
	}
	// An endpoint label has no port protocol: udp://name:port says UDP.
	v, ok, err := ParseLabel(key, value, "", EndpointFramework)
	if !ok || err != nil {
		return nil, err
	}
	_, _, explicit := SplitProtocol(value)
	var out []Binding
	for _, pm := range s.ep.PortMappings {
		if pm.ContainerPort != int(v.Port) || pm.HostPort <= 0 {
			continue
		}
		pv := v
		pv.Protocol = strings.ToLower(cmp.Or(pm.Protocol, ProtoTCP))
		if explicit && pv.Protocol != v.Protocol {
			continue // the label names the other protocol
		}
		if pv.Protocol != ProtoTCP && pv.Protocol != ProtoUDP {
			return nil, &LabelError{Key: key, Value: value, Reason: "port mapping protocol " + strconv.Quote(pm.Protocol) + " is not tcp or udp"}
		}
		bs, err := s.mappedBackends(key, value, pv, pm)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	if len(out) > 0 {
		return out, nil
	}
	return s.containerBackends(key, value, v, int(v.Port))
}

// mappedBackends are the backends of a VIP served by a mapped port: the
// container addresses and port, or the node IP and host port for an
// endpoint without a container address.
func (s *endpointSource) mappedBackends(key, value string, v VIP, pm cluster.PortMapping) ([]Binding, error) {
	if len(s.containerIP) == 0 {
		return s.hostBackend(key, value, v, pm.HostPort)
	}
	return s.containerBackends(key, value, v, pm.ContainerPort)
}

func (s *endpointSource) hostBackend(key, value string, v VIP, hostPort int) ([]Binding, error) {
	if !s.nodeIP.IsValid() {
		return nil, &LabelError{Key: key, Value: value, Reason: "host port " + strconv.Itoa(hostPort) + " but the endpoint has no node IP"}
	}
	if hostPort > 65535 {
		return nil, &LabelError{Key: key, Value: value, Reason: "host port " + strconv.Itoa(hostPort) + " out of range"}
	}
	return []Binding{{VIP: v, Backend: s.backend(s.nodeIP, uint16(hostPort))}}, nil
}

func (s *endpointSource) containerBackends(key, value string, v VIP, port int) ([]Binding, error) {
	if len(s.containerIP) == 0 {
		return nil, &LabelError{Key: key, Value: value, Reason: "the endpoint has no container IP"}
	}
	if port <= 0 || port > 65535 {
		return nil, &LabelError{Key: key, Value: value, Reason: "container port " + strconv.Itoa(port) + " out of range"}
	}
	out := make([]Binding, 0, len(s.containerIP))
	for _, ip := range s.containerIP {
		out = append(out, Binding{VIP: v, Backend: s.backend(ip, uint16(port))})
	}
	return out, nil
}

func (s *endpointSource) backend(ip netip.Addr, port uint16) Backend {
	return Backend{IP: ip, Port: port, Node: s.ep.Node, NodeIP: s.nodeIP, Task: s.ep.ID(), Healthy: true}
}

// Normalize sorts bindings (by VIP, then backend) and drops exact
// duplicates, so that sources give the same answer for the same input.
func Normalize(bs []Binding) []Binding {
	slices.SortFunc(bs, compareBinding)
	return slices.CompactFunc(bs, func(a, b Binding) bool { return a == b })
}

func compareBinding(a, b Binding) int {
	return cmp.Or(
		cmp.Compare(a.VIP.Protocol, b.VIP.Protocol),
		cmp.Compare(a.VIP.Name, b.VIP.Name),
		cmp.Compare(a.VIP.Framework, b.VIP.Framework),
		a.VIP.IP.Compare(b.VIP.IP),
		cmp.Compare(a.VIP.Port, b.VIP.Port),
		a.Backend.IP.Compare(b.Backend.IP),
		cmp.Compare(a.Backend.Port, b.Backend.Port),
		cmp.Compare(a.Backend.Node, b.Backend.Node),
		cmp.Compare(a.Backend.Task, b.Backend.Task),
		a.Backend.NodeIP.Compare(b.Backend.NodeIP),
		boolCompare(a.Backend.Healthy, b.Backend.Healthy),
		boolCompare(a.Backend.Draining, b.Backend.Draining),
	)
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
