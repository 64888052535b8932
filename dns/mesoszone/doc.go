// Package mesoszone serves the zones computed from the polled Mesos master
// state: the Mesos-DNS records (mesos.) and the dcos.thisdcos.directory
// task names, and hands every new set of task names to the etcd publisher
// of package taskzone. Both modes of dcnet-dns use it: Mesos-DNS mode on
// the masters (mesos. zone, publisher, the HTTP API's snapshot), and node
// mode on a cluster without etcd (both zones from the node's own poll).
//
// Config says where the state comes from (masters or a saved state file,
// the refresh, the SUBSCRIBE stream, the request timeout) and how records
// are generated (records.Config). Source polls it (package poll) and feeds
// a Sink.
//
// Design notes:
//
//   - One generation live: Sink.Apply generates the records and the task
//     names of a state, compares them with the served ones (records'
//     Equal, no reflection) and, only when they changed, swaps both zones
//     and bumps the serial (at least the Unix time, so a restarted master
//     does not go back). The zones drop the old sets at the swap; nothing
//     else holds them, so only one generation stays live past a poll.
//   - Last good records: a state the generator cannot use (no parseable
//     leader) changes nothing and is logged; the poller never hands over a
//     state that could not be fetched or parsed.
//   - Two locks: mu guards the served sets and the serial (held briefly by
//     Apply and Snapshot); pubMu runs one publish at a time, each of the
//     latest names read once it runs, so a publish that waited (the
//     election's OnElected against a poll's) never writes older names
//     after newer ones. A publish is bounded by PublishTimeout and by Stop.
//   - Start: a state file that cannot be read by the first poll is an
//     error (the daemon stops with a configuration error), masters that do
//     not answer yet are only logged and asked again.
package mesoszone
