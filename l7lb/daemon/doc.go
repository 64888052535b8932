// Package daemon is dcnet-l7lb: it runs the sources of truth, builds the
// desired state of its HAProxy instance from them (package build) and
// hands it to an Applier (l7lb/apply in production), and serves the
// HTTP API of l7lbapi: status, health, the pools API, Prometheus
// metrics and Marathon-LB's /_haproxy_health_check and
// /_haproxy_getconfig.
//
// # The loop
//
// Every source calls Kick after a change; a kick waits Debounce (5 ms)
// so that a burst of changes is one build, then builds and applies. A
// build also runs every SyncInterval with no change, which proves the
// sources current and lets the applier repair HAProxy. Nothing is built
// before every configured source has delivered a full view: a build from
// a Marathon that has not answered yet would remove every app. Until
// then the last good configuration saved on disk (StateDir/
// last-config.json, written after every successful apply that changed
// it, certificates and password hashes included, mode 0600) is served,
// so a restart while Marathon or etcd is down keeps HAProxy serving.
//
// # Staleness
//
// The health endpoint (and Marathon-LB's /_haproxy_health_check) fails
// with the reason when the last successful apply, or any source's last
// full view, is older than StaleAfter, or when a source never synced
// within StaleAfter of the start: a dead event stream, a wedged
// Marathon, an etcd out of reach or an applier that keeps failing are
// never silent. The configuration keeps being served meanwhile.
//
// # Problems
//
// What the builder or the applier left out (an app with bad labels, a
// certificate that does not load, a frontend HAProxy refused) is logged
// once when it appears and once when it is resolved, counted in
// dcnet_l7lb_problems{kind} and listed in GET /v1/status; the rest is
// served. Labels that are not supported are logged once per app.
package daemon
