package vip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/google/go-cmp/cmp"
)

var addrCmp = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })}

func endpoint(labels map[string]string, pms ...cluster.PortMapping) cluster.Endpoint {
	return cluster.Endpoint{
		Network: "dcos", ContainerID: "c1", IfName: "eth0",
		IPs:          []cluster.EndpointIP{{Address: "9.0.1.5/24", Gateway: "9.0.1.1"}, {Address: "fd01:b::1:0:5/80"}},
		Labels:       labels,
		PortMappings: pms,
		Node:         "node-a",
		NodeIP:       "198.18.0.2",
	}
}

func TestFromEndpoint(t *testing.T) {
	a := netip.MustParseAddr
	be := func(ip string, port uint16) Backend {
		return Backend{IP: a(ip), Port: port, Node: "node-a", NodeIP: a("198.18.0.2"), Task: "dcos/c1/eth0", Healthy: true}
	}
	web := VIP{Name: "/web", Framework: "marathon", Port: 80, Protocol: "tcp"}
	webUDP := web
	webUDP.Protocol = "udp"
	ipVIP := VIP{IP: a("1.2.3.4"), Port: 80, Protocol: "tcp"}
	tests := []struct {
		name    string
		ep      cluster.Endpoint
		want    []Binding
		wantErr []string
	}{
		{
			name: "no port mapping: container IPs and VIP port",
			ep:   endpoint(map[string]string{"VIP_0": "/web:80", "VIP_1": "1.2.3.4:80", "app": "x"}),
			want: []Binding{
				{ipVIP, be("9.0.1.5", 80)}, {ipVIP, be("fd01:b::1:0:5", 80)},
				{web, be("9.0.1.5", 80)}, {web, be("fd01:b::1:0:5", 80)},
			},
		},
		{
			name: "mapped port: container IPs and container port, one VIP per protocol",
			ep: endpoint(map[string]string{"VIP_0": "/web:80"},
				cluster.PortMapping{HostPort: 31000, ContainerPort: 80, Protocol: "tcp"},
				cluster.PortMapping{HostPort: 31001, ContainerPort: 80, Protocol: "udp"},
				cluster.PortMapping{HostPort: 31002, ContainerPort: 9000, Protocol: "tcp"}),
			want: []Binding{{web, be("9.0.1.5", 80)}, {web, be("fd01:b::1:0:5", 80)}, {webUDP, be("9.0.1.5", 80)}, {webUDP, be("fd01:b::1:0:5", 80)}},
		},
		{
			name: "VIP_PORT form selects the mapping: its container port",
			ep: endpoint(map[string]string{"VIP_PORT1": "udp:///web:80"},
				cluster.PortMapping{HostPort: 31000, ContainerPort: 8080, Protocol: "tcp"},
				cluster.PortMapping{HostPort: 31001, ContainerPort: 5353, Protocol: "udp"}),
			want: []Binding{{webUDP, be("9.0.1.5", 5353)}, {webUDP, be("fd01:b::1:0:5", 5353)}},
		},
		{
			name: "VIP_PORT form without a host port uses the container port",
			ep: endpoint(map[string]string{"vip_port0": "tcp:///web:80"},
				cluster.PortMapping{ContainerPort: 8080, Protocol: "tcp"}),
			want: []Binding{{web, be("9.0.1.5", 8080)}, {web, be("fd01:b::1:0:5", 8080)}},
		},
		{
			name: "udp:// label: a UDP VIP on the container's addresses",
			ep:   endpoint(map[string]string{"VIP_0": "udp:///web:80"}),
			want: []Binding{{webUDP, be("9.0.1.5", 80)}, {webUDP, be("fd01:b::1:0:5", 80)}},
		},
		{
			name: "udp:// label with port mappings: only the udp mapping counts, no TCP VIP",
			ep: endpoint(map[string]string{"VIP_0": "udp:///web:80"},
				cluster.PortMapping{HostPort: 31000, ContainerPort: 80, Protocol: "tcp"},
				cluster.PortMapping{HostPort: 31001, ContainerPort: 80, Protocol: "udp"}),
			want: []Binding{{webUDP, be("9.0.1.5", 80)}, {webUDP, be("fd01:b::1:0:5", 80)}},
		},
		{
			name:    "bad labels are reported, good ones kept",
			ep:      endpoint(map[string]string{"VIP_0": "/web:80", "VIP_1": "/web:0", "VIP_PORT3": "tcp://x:80"}),
			want:    []Binding{{web, be("9.0.1.5", 80)}, {web, be("fd01:b::1:0:5", 80)}},
			wantErr: []string{`VIP_1="/web:0": port 0`, `VIP_PORT3="tcp://x:80": no port mapping 3`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := FromEndpoint(tt.ep)
			if diff := cmp.Diff(tt.want, got, addrCmp); diff != "" {
				t.Errorf("bindings (-want +got):\n%s", diff)
			}
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("errors %v, want %d", errs, len(tt.wantErr))
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), tt.wantErr[i]) || !strings.Contains(err.Error(), "dcos/c1/eth0") {
					t.Errorf("error %q: want it to name the endpoint and %q", err, tt.wantErr[i])
				}
			}
		})
	}
}

func TestFromEndpointMissingAddresses(t *testing.T) {
	// Without a container address a mapped port falls back to node IP and
	// host port, which needs a node IP.
	ep := endpoint(map[string]string{"VIP_0": "/web:80"}, cluster.PortMapping{HostPort: 31000, ContainerPort: 80, Protocol: "tcp"})
	ep.IPs = nil
	if bs, errs := FromEndpoint(ep); len(errs) != 0 || len(bs) != 1 || bs[0].Backend.AddrPort().String() != "198.18.0.2:31000" {
		t.Errorf("bindings %v errs %v, want node IP and host port", bs, errs)
	}
	ep.NodeIP = ""
	if _, errs := FromEndpoint(ep); len(errs) != 1 || !strings.Contains(errs[0].Error(), "no node IP") {
		t.Errorf("errs = %v, want a missing node IP error", errs)
	}
	ep = endpoint(map[string]string{"VIP_0": "/web:80"})
	ep.IPs = nil
	if _, errs := FromEndpoint(ep); len(errs) != 1 || !strings.Contains(errs[0].Error(), "no container IP") {
		t.Errorf("errs = %v, want a missing container IP error", errs)
	}
}
