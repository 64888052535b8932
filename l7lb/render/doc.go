// Package render turns a validated model.Config into haproxy.cfg for
// HAProxy 2.6, with the map, crt-list and certificate files it names.
// It is pure: no file is written and nothing runs.
//
// # Server slots
//
// A backend's servers are rendered into pre-allocated slots (s1, s2, ...):
// a slot in use is `server sN <addr> weight W`, a draining one has weight
// 0, a free one is `server sN 127.0.0.1:1 disabled` (maintenance). The
// applier moves servers in and out of slots with the runtime API, so
// scaling needs no reload while slots last; which key sits in which slot
// is the applier's choice, and the file always says what HAProxy has.
//
// # Routing through maps
//
// Host and path routes are not rules but entries of one map per frontend
// (`<host><path prefix> <backend>`), read with map_beg, which finds the
// longest matching prefix; a one-label wildcard is looked up with the
// request's first host label replaced by "*", and routes for any host by
// the path alone. The runtime API replaces a whole map atomically
// (prepare, add, commit), so a route to an existing backend is added
// without reload; only the first route of a kind (exact, wildcard, any
// host) adds the lookup line that reads it. TLS frontends in TCP mode
// route by SNI with exact lookups.
//
// # Certificates
//
// TLS frontends bind with a crt-list naming one file per certificate; the
// first is the default for clients without a matching SNI. A certificate's
// contents can be replaced at runtime (`set ssl cert`, `commit ssl cert`)
// under the same path, and certificates other than the first join or
// leave the crt-list at runtime.
//
// # Isolation
//
// Validate drops what HAProxy would refuse (bad names, modes, hosts,
// paths, certificates, auth fields, duplicate binds, routes to missing
// backends) one part at a time, and Output.Sections lets the applier map
// an error of `haproxy -c` to the frontend or backend it is about.
package render
