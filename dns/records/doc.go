// Package records computes DNS records from a Mesos master state: the
// Mesos-DNS zone (Generate) and the dcos-dns task names of
// dcos.thisdcos.directory (TaskNames). It is pure: no I/O, no clock, no
// resolver unless Config.LookupHost is set; a server builds a RecordSet per
// state and swaps it in.
//
// Mesos-DNS records, for domain "mesos" (names are fully qualified and
// lower-case):
//
//	leader.mesos            A/AAAA  the leading master (from the state's "leader" PID)
//	master.mesos            A/AAAA  every master: the leader and Config.Masters
//	masterN.mesos           A/AAAA  Config.Masters in order; the leader appended if absent
//	_leader._tcp|_udp.mesos SRV     leader.mesos:<leader port>
//	slave.mesos             A/AAAA  every agent (host of its PID)
//	_slave._tcp.mesos       SRV     slave.mesos:<agent PID port>
//	<fw>.mesos              A/AAAA  each scheduler (host of its PID, else its hostname)
//	_framework._tcp.<fw>.mesos SRV  <fw>.mesos:<scheduler PID port>
//
// and for each task whose current state is TASK_RUNNING, on a registered
// agent:
//
//	<task>.<fw>.mesos                    A/AAAA task IPs
//	<task>-<hash>-<agenttail>.<fw>.mesos A/AAAA task IPs (the canonical name)
//	<task>[-<hash>-<agenttail>].<fw>.slave.mesos  A/AAAA agent IPs
//	_<task>._tcp|_udp.<fw>.slave.mesos   SRV per port resource -> canonical .slave name
//	_<task>._tcp|_udp.<fw>.mesos         the same, only for tasks without a DiscoveryInfo name
//	_<task>._<proto>.<fw>.mesos          SRV per DiscoveryInfo port -> canonical name
//	                                     (no protocol: both tcp and udp)
//	_<port>._<task>._<proto>.<fw>.mesos  the same, for named DiscoveryInfo ports
//
// <task> is the DiscoveryInfo name when set, else the task name, sanitised as
// one label; <fw> is the framework name with each '.'-separated part
// sanitised (DomainFrag); <hash> is the first 5 characters of
// zbase32(sha1(task ID)); <agenttail> is the lower-cased last '-' field of the
// agent ID ("...-S3" -> "s3").
//
// Sanitising (Spec.Label): lower-case; '.', '_' and '-' become '-'; other
// characters are dropped; then leading '-' (RFC 1123) or leading '-' and
// digits (RFC 952, Config.EnforceRFC952) are trimmed, the label is cut to 63
// (RFC 1123) or 24 (RFC 952) characters and trailing '-' are trimmed.
//
// Task IPs: the IP sources of Config.IPSources are read in order ("host":
// the agent's IPs; "mesos" and "docker": the MesosContainerizer / Docker
// NetworkSettings.IPAddress status labels; "netinfo": the status's
// container_status.network_infos addresses) and the first IPv4 and the first
// IPv6 address found are used. Container sources read only the task's latest
// TASK_RUNNING status by timestamp. The default order is Mesos-DNS's:
// netinfo, mesos, host.
//
// Task names (TaskNames), zone dcos.thisdcos.directory:
//
//	<task>.<fw>.agentip.dcos.thisdcos.directory      the agent's IPs
//	<task>.<fw>.containerip.dcos.thisdcos.directory  the container's IPs (netinfo, docker, mesos)
//	<task>.<fw>.autoip.dcos.thisdcos.directory       agent IPs if the task maps a host port
//	                                                 or has no container IP, else container IPs
//
// Design notes and deliberate differences from Mesos-DNS:
//
//   - Host names that are not IP literals (agent and scheduler PIDs, the
//     leader) are resolved only through Config.LookupHost; without it they
//     produce no records and a warning. Mesos-DNS resolves them with the
//     system resolver and, for agents, publishes the sanitised host name as
//     an "A" value.
//   - Mesos-DNS also publishes a DiscoveryInfo name unsanitised (marked
//     LEGACY there); this package publishes only the sanitised form.
//   - Tasks and frameworks whose names sanitise to nothing are skipped with
//     a warning instead of producing names with empty labels.
//   - When cutting a label makes the refill from after the cut end in '-',
//     that '-' is trimmed, so every label is a valid host name label.
//   - mesos-dns's generator test (be539256) expects the netinfo A record of
//     the fixture's toy-store task to be 12.0.1.2, though the fixture lists
//     12.0.1.3 first; this package applies the documented first-found rule
//     and answers 12.0.1.3.
//   - Records are kept as sets and frozen into sorted slices, so the output
//     is deterministic; Lookup reports whether a name exists at all so the
//     server can tell NODATA from NXDOMAIN.
package records
