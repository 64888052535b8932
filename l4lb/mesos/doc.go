// Package mesos reads VIPs and their backends from the Mesos Operator API:
// the GET_STATE answer of the local agent (polled by dcnet-l4lb) and,
// for tests and masters, the SUBSCRIBE event stream (Replay, Apply). It
// is pure logic: decoding and extraction, no HTTP.
//
// # What is extracted (as dcos-net's dcos_net_mesos_listener and
// dcos_l4lb_mesos do)
//
//   - Framework: tasks of unknown frameworks are skipped; the framework
//     name scopes named VIPs (/web in marathon ->
//     web.marathon.l4lb.thisdcos.directory).
//   - Agent IP: the agent's hostname when it is an IP address (registered
//     or recovered agents), else the agentIP argument; no DNS lookups.
//   - Task IPs and health come from the latest status (highest timestamp):
//     container_status.network_infos[].ip_addresses, healthy. A task with a
//     health check but no healthy flag yet is unhealthy.
//   - Ports are merged from three sources: port mappings (Docker
//     container.docker.port_mappings; for UCR the container's network_infos
//     or else the latest status's), task labels VIP_PORT<n>=proto://vip
//     (host port = n-th port of the "ports" resources) and DiscoveryInfo
//     ports with their VIP_* labels (the number is a host port when the
//     label network-scope=host, else a container port; number 0 is
//     skipped). Ports with the same protocol and container port, or the
//     same protocol and host port, merge, and their VIP labels add up.
//     For host-networked tasks (task IP = agent IP) host ports are the
//     ports.
//   - Backends: agent IP:host port when the port is mapped to the host,
//     else every task IP:port (the agent IP when the status has none).
//
// Only TASK_RUNNING and TASK_KILLING tasks have backends. Where dcos-net
// dropped unhealthy tasks, dcnet keeps them with Healthy=false, and
// TASK_KILLING tasks with Draining=true: both take no new connections but
// keep their existing ones. A malformed VIP label is reported (task,
// framework, label key and value, reason) and skipped; the task's other
// labels still count.
package mesos
