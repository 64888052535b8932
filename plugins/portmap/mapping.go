package portmap

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
)

// Protocols a mapping may name, with their IP protocol numbers.
var protocols = map[string]uint8{
	"tcp":  unix.IPPROTO_TCP,
	"udp":  unix.IPPROTO_UDP,
	"sctp": unix.IPPROTO_SCTP,
}

// defaultProtocol is a mapping's protocol when it names none (Mesos: tcp).
const defaultProtocol = "tcp"

// Mapping is one host port forwarded to a container port.
type Mapping struct {
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp", "udp" or "sctp"
}

// NewMapping validates one mapping; protocol defaults to tcp and is
// case-insensitive. A hostIP other than empty, 0.0.0.0 or :: is refused:
// dcnet-portmap maps a host port on every address of the node.
func NewMapping(host, container int, proto, hostIP string) (Mapping, error) {
	if host < 1 || host > maxPort {
		return Mapping{}, fmt.Errorf("host port %d out of range [1, %d]", host, maxPort)
	}
	if container < 1 || container > maxPort {
		return Mapping{}, fmt.Errorf("container port %d out of range [1, %d]", container, maxPort)
	}
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = defaultProtocol
	}
	if _, ok := protocols[proto]; !ok {
		return Mapping{}, fmt.Errorf("protocol %q: want \"tcp\", \"udp\" or \"sctp\"", proto)
	}
	if hostIP != "" {
		ip, err := netip.ParseAddr(hostIP)
		if err != nil {
			return Mapping{}, fmt.Errorf("hostIP %q: want an IP address", hostIP)
		}
		if !ip.IsUnspecified() {
			return Mapping{}, fmt.Errorf("hostIP %s: dcnet-portmap maps a host port on every address of the node; omit hostIP or use 0.0.0.0", ip)
		}
	}
	return Mapping{HostPort: uint16(host), ContainerPort: uint16(container), Protocol: proto}, nil
}

// Port is a host port of one protocol: what two containers cannot share.
type Port struct {
	Protocol string
	Number   uint16
}

// String renders the port as "tcp/8080".
func (p Port) String() string { return fmt.Sprintf("%s/%d", p.Protocol, p.Number) }

// ProtoNumber is the IP protocol number of p.
func (p Port) ProtoNumber() uint8 { return protocols[p.Protocol] }

// Host is the host port of m.
func (m Mapping) Host() Port { return Port{Protocol: m.Protocol, Number: m.HostPort} }

// String renders m as "tcp 8080->80".
func (m Mapping) String() string {
	return fmt.Sprintf("%s %d->%d", m.Protocol, m.HostPort, m.ContainerPort)
}
