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
// and, when Config.SOAMname and Config.Listeners are set, the SOA mname
// (e.g. "ns1.mesos.") with the listener's addresses. For each task whose
// "state" is TASK_RUNNING, on a registered agent:
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
// <task> is the task name sanitised as one label; a task with a
// DiscoveryInfo name gets every record twice, under that name sanitised and
// under it exactly as given (Mesos-DNS's "LEGACY" records: "big.dog" gives
// big.dog.marathon.mesos. beside big-dog.marathon.mesos., in either label
// rule; a given name in upper case is kept so, and no lower-cased question
// finds it, as in Mesos-DNS). <fw> is the framework name with each
// '.'-separated part sanitised (DomainFrag); <hash> is the first 5
// characters of zbase32(sha1(task ID)); <agenttail> is the lower-cased last
// '-' field of the agent ID ("...-S3" -> "s3").
//
// Sanitising (Spec.Label), as Mesos-DNS's labels package: lower-case; '.',
// '_' and '-' become '-'; other characters are dropped; then leading '-'
// (RFC 1123) or leading '-' and digits (RFC 952, Config.EnforceRFC952) are
// trimmed, the label is cut to 63 (RFC 1123) or 24 (RFC 952) characters and
// trailing '-' are trimmed, the dashes trimmed at the cut being refilled
// with the characters after it (such a refill may end in '-').
//
// Task IPs (Mesos-DNS e888ef4's Task.IPs): the IP sources of
// Config.IPSources are read in order ("host": the agent's IPs; "mesos" and
// "docker": the MesosContainerizer / Docker NetworkSettings.IPAddress status
// labels; "netinfo": the status's container_status.network_infos addresses)
// and every address of the first source that has any is used, IPv4 and
// IPv6 alike. Container sources read only the task's latest TASK_RUNNING
// status by timestamp. The default order is Mesos-DNS's: netinfo, mesos,
// host. Masters are Config.Masters, "ip:port", compared with the leader by
// their text as Mesos-DNS does.
//
// Task names (TaskNames), zone dcos.thisdcos.directory:
//
//	<task>.<fw>.agentip.dcos.thisdcos.directory      the agent's IPs
//	<task>.<fw>.containerip.dcos.thisdcos.directory  the container's IPs (netinfo, docker, mesos)
//	<task>.<fw>.autoip.dcos.thisdcos.directory       agent IPs if the task maps a host port
//	                                                 or has no container IP, else container IPs
//
// TestGenerateMatchesMesosDNS holds Generate to the record sets upstream
// Mesos-DNS's generator makes of its own fixture (testdata/mesos-dns).
// Where Mesos-DNS's output cannot be a DNS answer or it would crash, this
// package differs, deliberately:
//
//   - Host names that are not IP literals (agent and scheduler PIDs, the
//     leader) are resolved only through Config.LookupHost (dcnet-dns sets
//     the system resolver, as Mesos-DNS uses); a leader host name takes its
//     first IPv4 address (Mesos-DNS panics on one). An agent whose host
//     does not resolve gets no records; Mesos-DNS publishes its sanitised
//     host name as an "A" value.
//   - Tasks and frameworks whose names sanitise to nothing are skipped with
//     a warning instead of producing names with empty labels
//     (".marathon.mesos."); DiscoveryInfo ports outside [0, 65535] are
//     skipped with a warning (Mesos-DNS prints them, its DNS answers wrap
//     them); a state without a parseable leader keeps the last good records
//     (Mesos-DNS drops the master records and keeps the rest).
//   - Records are kept as sets and frozen into sorted slices, so the output
//     is deterministic; Lookup reports whether a name exists at all so the
//     server can tell NODATA from NXDOMAIN.
package records
