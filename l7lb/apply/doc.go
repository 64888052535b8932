// Package apply implements model.Applier for one HAProxy 2.6: it turns
// each desired Config into runtime-API commands where they suffice and a
// validated reload where they do not.
//
// # What needs a reload
//
// The structure of a Config (see structure.go) is what no runtime command
// changes: frontends, binds, modes, default TLS certificates, default
// backends, redirects, the kinds of routes a frontend has (exact host,
// wildcard, any host), backends with everything but their servers, and
// each backend's number of server slots. Apply compares the wanted
// structure with the loaded one; everything else goes through the runtime
// API at once:
//
//   - servers: each backend has slots (render.SlotName); a Server.Key keeps
//     its slot, a new key takes the lowest free one (`set server addr`,
//     `weight`, `state ready`), a weight or drain change is one command.
//     When the slots run out the backend grows by whole steps (a reload).
//   - routes: a frontend's map is replaced atomically (prepare, add,
//     commit) with the routes whose backends are loaded.
//   - certificates: new contents of a loaded certificate name go in with
//     `set ssl cert` + `commit ssl cert`; contents that fail our own check
//     or HAProxy's keep the previous certificate serving, reported. A
//     certificate other than a frontend's first (default) joins its
//     crt-list with `new ssl cert` and `add ssl crt-list`, and leaves with
//     `del ssl crt-list` and `del ssl cert`.
//
// After every runtime batch the running generation's files are rewritten
// with HAProxy's new state, so a reload or a restart after a crash keeps
// every runtime change.
//
// # Draining
//
// A server that leaves the Config drains in its slot (`state drain`: no
// new connections or sessions, sticky clients and open connections kept)
// until `show stat` reports no session on it or DrainTimeout passes; only
// then is its slot set to maintenance and freed. A reload frees draining
// slots at once: the new worker has no session on them, and the old
// worker keeps its connections until they end or hard-stop-after.
//
// # Reloads
//
// A reload renders a new generation directory (Dir/gen/<n>: haproxy.cfg,
// maps, crt-lists, certs; the last five are kept), runs `haproxy -c` on
// it, copies it atomically to HAProxy's ConfigPath and reloads through
// the master CLI, confirmed with `show proc` (l7lb/haproxy). Reloads are
// debounced (MinReloadInterval): a structural change within the interval
// waits for Run, while its runtime part is applied at once. A failed
// reload puts the previous file back, is reported as a Problem, and is
// retried with backoff.
//
// # Isolation
//
// render.Validate leaves out each part HAProxy would refuse. When
// `haproxy -c` still refuses the file, its alerts are mapped to the
// frontend, backend or certificate they name (by line through
// render.Output.Sections, by proxy name, or by file path); that part is
// left out, reported, and the rest checked again, a bounded number of
// rounds. A bind that fails at reload drops its frontend the same way.
// Refused parts are remembered by fingerprint and left out without
// another check until they change.
package apply
