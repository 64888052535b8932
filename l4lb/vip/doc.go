// Package vip parses the VIP labels of DC/OS (dcos-l4lb, "minuteman") and
// describes VIPs, their backends and their DNS names. It is pure logic: no
// I/O, no kernel, no store.
//
// # Labels
//
// A port label declares a VIP when its key starts with "VIP" or "vip"
// (VIP_0, VIP_1, vip0; several per port are allowed and each counts). Its
// value is one of
//
//	name:port, /name:port, /group/name:port   named VIP, scoped by framework
//	1.2.3.4:80, fd01:c::5:8080                IP VIP (split at the last ':')
//	[fd01:c::5]:8080                          IP VIP, bracketed form
//
// optionally behind tcp:// or udp:// (VIP_0=udp:///dns:53), which names
// the VIP's protocol. Without a scheme the protocol is the labelled port's
// (Marathon portDefinitions[].protocol, Mesos DiscoveryInfo ports, a port
// mapping's protocol), and TCP where the source has none (CNI and Docker
// labels), so TCP and UDP on the same port are two VIPs. With a scheme, a
// port of the other protocol does not carry the VIP (Marathon gives a
// "udp,tcp" port one discovery port per protocol, both with the labels),
// and of an endpoint's port mappings only those of that protocol count. The
// task-label form VIP_PORT<n>=tcp://name:port (key case-insensitive:
// vip_port0) names the protocol itself and points at the n-th port of the
// task. Malformed labels give a *LabelError naming
// key, value and reason: a missing, empty, non-numeric, out-of-range or 0
// port, an empty name, a name with ':' that is not an IP address ("too many
// colons"), a name with no DNS-safe character, an IP with a zone, a bad
// protocol or VIP_PORT index.
//
// # Identity and DNS names
//
// A named VIP resolves as <name>.<framework>.l4lb.thisdcos.directory:
// name and framework are split at '.', each label is sanitised like
// Mesos-DNS/dcos-net (lower-case; '-', '_', '.' become '-'; everything
// else, '/' included, is dropped; leading junk and trailing '-' trimmed; at
// most 63 characters), so /mygroup/myapp in marathon is
// mygroupmyapp.marathon.l4lb.thisdcos.directory. Key identifies a service
// by (protocol, DNS name or IP, port): "/web" and "web" of one framework are
// one service, because they share one name and so must share one address.
//
// # Backends
//
// A backend is a container IP and port, or the node IP and host port when
// the port is mapped to the host. Healthy=false (failed health check) and
// Draining=true (terminating) both mean: no new connections, existing ones
// continue. FromEndpoint reads the labels of overlayd endpoint records
// (CNI and Docker containers); package mesos reads Mesos agent state.
package vip
