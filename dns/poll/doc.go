// Package poll keeps a Mesos master state fresh for the DNS server: a
// Poller asks a Fetcher for the state every interval and hands each good
// state to its callback.
//
// Design notes:
//
//   - Fetchers: HTTPFetcher asks GET <master>/master/state of the
//     configured masters in turn, starting with the one (or the leader) that
//     answered last. A master whose state names another master as "leader"
//     (PID "master@ip:port") is not the leader: its state has no tasks, so the
//     fetcher asks the leader at http(s)://ip:port/master/state instead, one
//     hop only. A master that fails (connection, status, bad JSON, no leader
//     elected, unreachable leader) is skipped for the next one; every request
//     is bounded by HTTPFetcher.Timeout. FileFetcher re-reads a state file.
//     FakeFetcher, beside the interface, replays scripted answers.
//   - Keeping the last good state: a failed fetch never reaches the
//     callback, so the zones fed from it keep serving the last good state
//     while every master is down or answers garbage.
//   - Backoff: after a failure the poller waits the interval, then twice
//     that after each further failure, up to MaxBackoff; one success brings
//     it back to the interval.
//   - Events: a Subscriber holds the master operator API's SUBSCRIBE stream
//     open (following the leader's 307) and Kicks the poller at every event
//     but HEARTBEAT, so a task's records follow within one poll instead of
//     one interval. Events only trigger polls (the state document stays the
//     single source of records); kicked polls keep MinGap between their
//     starts, and a stream that ends or idles past Idle is opened again with
//     backoff.
package poll
