// Package haproxy runs and talks to one HAProxy 2.6 instance: it supervises
// the master process (master-worker mode), reloads it through the master
// CLI and confirms the reload, and speaks the runtime API of the stats
// socket (servers, maps, certificates, stats).
//
// # Process
//
// Instance starts `haproxy -W -S <master socket> -f <config>` in its own
// process group (optionally under a wrapper such as `ip netns exec NS`,
// which execs, so the PID held is the master's own), restarts it with
// backoff when it exits on its own (killed -9, crashed), and stops it by
// PID: SIGTERM to the master, then SIGKILL to its process group after a
// bound. The master's stdout and stderr are logged and the last lines kept,
// so a failed reload can say why.
//
// # Reload
//
// HAProxy 2.6's master CLI answers nothing to `reload` and closes the
// connection, and the master re-executes itself twice (to load the new
// configuration, then again into wait mode). Instance.Reload therefore polls
// `show proc` until the master's reload counter moved: `[failed: N]` with
// N > 0 is a failed reload (the master keeps the old workers serving), and
// otherwise the new worker is the one with zero reloads that was not there
// before. The reload is confirmed only once the stats socket answers
// `show info` with the new worker's PID, so runtime commands sent after
// Reload reach the new worker and not a leaving one. The master resets
// `failed` to 0 on every successful reload.
//
// # Runtime API
//
// Commands go over the stats socket in prompt mode: one connection carries a
// whole batch, and every answer ends with the prompt "\n> ", which splits the
// stream into one reply per command. Payload commands (`set ssl cert`,
// `add map ... <<`) send their payload after the command line and end it
// with an empty line; HAProxy echoes a "+ " per payload line, which the
// client strips. Transport is the socket behind a small interface;
// FakeTransport answers from a function for unit tests.
package haproxy
