// Package axfrzone serves the zone mesos.thisdcos.directory on every node,
// as dcos-dns does: Mesos-DNS's records, read from its /v1/axfr and
// renamed from its domain ("mesos.") to mesos.thisdcos.directory. (SRV
// targets too: _http._web._tcp.marathon.mesos.thisdcos.directory points
// at web-....marathon.mesos.thisdcos.directory.)
//
// Where the records come from: dcos-dns reads /v1/axfr from the Mesos-DNS
// on its own host when that host runs the leading Mesos master, and
// spreads the zone to every node through its lashup store. dcnet has no
// such store for whole zones, and the node must work with dcnet's
// Mesos-DNS mode and with an upstream Mesos-DNS alike, so each node polls
// the masters' Mesos-DNS HTTP API itself (Poller, port 8123, every
// Config.Refresh, 30 s as dcos-dns): the master that answered last first,
// then the others in order. The cost stays small: dcnet's /v1/axfr
// answers an ETag (the zone's serial) and a poll that sends it back gets
// 304 Not Modified while the zone is unchanged; an upstream Mesos-DNS
// sends the whole zone, whose bytes are hashed and, unchanged, not parsed
// again.
//
// Parse turns an answer into a record set and is fuzzed: values that are
// not addresses of the right family, SRVs that are not target:port and
// names outside the answer's domain are left out with a warning, the
// rest served. An answer that is not JSON keeps the last good zone.
package axfrzone
