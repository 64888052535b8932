// Package model is the desired state of one HAProxy instance run by
// dcnet-l7lb: the frontends it binds, the backends they route to and the
// servers of each backend, as plain data. The sources (Marathon with
// Marathon-LB's labels, Edge-LB-style pools, dcnet's endpoint records, the
// Mesos operator API) build a Config; the applier (l7lb/apply) turns it into
// a rendered haproxy.cfg plus runtime-API changes. The model says what is
// wanted, never how HAProxy does it: server slots, maps, crt-lists and
// reloads are the applier's business.
//
// A Config is a value: two Configs built from the same input are equal
// (Normalize sorts every list), so the applier can diff the previous one
// against the next to tell a structural change (a reload) from a change of
// servers, weights, drain state, vhost routes to existing backends or
// certificate contents (runtime API, no reload).
package model

import (
	"context"
	"net/netip"
	"sort"
	"time"
)

// Mode is the proxy mode of a frontend or backend.
type Mode string

// Modes.
const (
	ModeHTTP Mode = "http"
	ModeTCP  Mode = "tcp"
)

// Config is everything one HAProxy instance serves.
type Config struct {
	// Frontends, sorted by Name.
	Frontends []Frontend `json:"frontends"`
	// Backends, sorted by Name. A backend no frontend routes to is kept
	// (its servers stay warm), but the applier may skip it.
	Backends []Backend `json:"backends"`
	// Problems are the inputs that were left out and why (one bad app,
	// one invalid certificate), so the rest is served; sorted.
	Problems []Problem `json:"problems,omitempty"`
}

// Frontend is one listening socket with its routing.
type Frontend struct {
	// Name is stable and unique, [A-Za-z0-9_.:-]: "marathon_http_in",
	// "marathon_10000", "pool_web_https". No backend has the same name
	// (the applier tells HAProxy's messages apart by proxy name).
	Name string `json:"name"`
	// Bind is the address and port to listen on; an invalid Addr means
	// every address (HAProxy's "*").
	Bind netip.AddrPort `json:"bind"`
	Mode Mode           `json:"mode"`
	// TLS, when set, terminates TLS on this frontend; the certificate is
	// chosen by SNI among Certs, the first one being the default.
	TLS *TLS `json:"tls,omitempty"`
	// RedirectToHTTPS answers every plain-HTTP request with a redirect to
	// https (HTTP mode, frontends without TLS).
	RedirectToHTTPS bool `json:"redirectToHTTPS,omitempty"`
	// Routes send requests to backends by Host (HTTP: the Host header;
	// TLS: SNI) and path prefix, most specific first (see SortRoutes).
	// A TCP frontend without TLS has no routes, only Default.
	Routes []Route `json:"routes,omitempty"`
	// Default is the backend of traffic no route matches; empty: HAProxy
	// answers 503 (HTTP) or closes (TCP).
	Default string `json:"default,omitempty"`
}

// TLS is the certificate set of a frontend.
type TLS struct {
	// Certs are the certificates, by Name; the first is the default.
	Certs []Cert `json:"certs"`
}

// Cert is one certificate with its key and chain, PEM-encoded. Its
// contents may change without a reload (`set ssl cert`), and a Cert other
// than a frontend's first joins or leaves its crt-list without one; only
// the first (the default certificate) is structural.
type Cert struct {
	// Name is stable and unique per instance ("web.example.pem").
	Name string `json:"name"`
	// PEM holds the certificate chain and the private key.
	PEM []byte `json:"-"`
}

// Route sends matching requests to Backend.
type Route struct {
	// Host is matched case-insensitively against the Host header (port
	// stripped) or SNI; "*.example.com" matches one label; empty matches
	// any host.
	Host string `json:"host,omitempty"`
	// PathPrefix is matched against the request path (HTTP only); empty
	// or "/" matches every path.
	PathPrefix string `json:"pathPrefix,omitempty"`
	Backend    string `json:"backend"`
}

// Backend is a set of servers with how to balance and check them.
type Backend struct {
	// Name is stable and unique, [A-Za-z0-9_.:-]: "marathon_web_10000",
	// "pool_web_api".
	Name string `json:"name"`
	Mode Mode   `json:"mode"`
	// Balance is HAProxy's algorithm: roundrobin (default), leastconn,
	// source, first, random.
	Balance string `json:"balance,omitempty"`
	// Sticky pins an HTTP client to a server with a cookie.
	Sticky bool `json:"sticky,omitempty"`
	// Health, when set, makes HAProxy check every server.
	Health *HealthCheck `json:"health,omitempty"`
	// Auth, when set, requires HTTP basic authentication.
	Auth *BasicAuth `json:"auth,omitempty"`
	// RedirectToHTTPS redirects plain-HTTP requests reaching this backend
	// to https (Marathon-LB's per-app HAPROXY_{n}_REDIRECT_TO_HTTPS).
	RedirectToHTTPS bool `json:"redirectToHTTPS,omitempty"`
	// HSTS adds Strict-Transport-Security to HTTPS answers.
	HSTS bool `json:"hsts,omitempty"`
	// Servers, sorted by Key.
	Servers []Server `json:"servers"`
	// Source names who asked for this backend ("marathon:/web",
	// "pool:web"), for status and logs.
	Source string `json:"source,omitempty"`
}

// HealthCheck is an active check of every server of a backend.
type HealthCheck struct {
	// HTTP checks send GET Path and want a 2xx or 3xx; otherwise a TCP
	// connect is the check.
	HTTP bool   `json:"http,omitempty"`
	Path string `json:"path,omitempty"`
	// Interval between two checks (0: HAProxy's 2 s); Timeout of one
	// check (0: Interval).
	Interval time.Duration `json:"interval,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
	// Rise and Fall are the consecutive successes/failures that change a
	// server's state (0: HAProxy's 2 and 3).
	Rise int `json:"rise,omitempty"`
	Fall int `json:"fall,omitempty"`
}

// BasicAuth is one user allowed into a backend.
type BasicAuth struct {
	Realm string `json:"realm"`
	User  string `json:"user"`
	// PasswordHash is a crypt(3) hash (HAProxy's `user ... password`) or,
	// with Insecure, the clear text (`insecure-password`).
	PasswordHash string `json:"-"`
	Insecure     bool   `json:"insecure,omitempty"`
}

// Server is one backend instance.
type Server struct {
	// Key identifies the instance across changes (a Marathon task ID plus
	// the port index, an endpoint record's key plus the port): the same
	// Key keeps the same server slot, so sticky cookies and stats follow it.
	Key  string         `json:"key"`
	Addr netip.AddrPort `json:"addr"`
	// Weight in [1, 256]; 0 is replaced by DefaultWeight in Normalize.
	// (Draining, not a zero weight, takes a server out of new traffic.)
	Weight int `json:"weight"`
	// Draining servers take no new connections or sessions but keep the
	// ones they have (a task being killed, failing its Marathon health
	// check, an endpoint record going away).
	Draining bool `json:"draining,omitempty"`
}

// DefaultWeight is a server's weight when its source gives none.
const DefaultWeight = 1

// Problem is an input that was left out of the Config.
type Problem struct {
	// Kind is what was dropped: "app", "frontend", "backend", "cert",
	// "pool", "source".
	Kind string `json:"kind"`
	// Name is the app ID, pool name, frontend name, ...
	Name string `json:"name"`
	// Reason says what is wrong and what to do about it.
	Reason string `json:"reason"`
}

// Normalize sorts every list of c in place and fills defaults, so equal
// inputs give equal Configs.
func (c *Config) Normalize() {
	sort.Slice(c.Frontends, func(i, j int) bool { return c.Frontends[i].Name < c.Frontends[j].Name })
	for i := range c.Frontends {
		SortRoutes(c.Frontends[i].Routes)
	}
	sort.Slice(c.Backends, func(i, j int) bool { return c.Backends[i].Name < c.Backends[j].Name })
	for i := range c.Backends {
		b := &c.Backends[i]
		if b.Balance == "" {
			b.Balance = "roundrobin"
		}
		sort.Slice(b.Servers, func(i, j int) bool { return b.Servers[i].Key < b.Servers[j].Key })
		for j := range b.Servers {
			if b.Servers[j].Weight == 0 {
				b.Servers[j].Weight = DefaultWeight
			}
		}
	}
	sort.Slice(c.Problems, func(i, j int) bool {
		a, b := c.Problems[i], c.Problems[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Reason < b.Reason
	})
}

// SortRoutes orders routes most specific first: exact hosts before
// wildcards before any host, then longer path prefixes first, then by
// host, path and backend, so the first matching route is the one wanted.
func SortRoutes(rs []Route) {
	rank := func(h string) int {
		switch {
		case h == "":
			return 2
		case len(h) > 1 && h[0] == '*':
			return 1
		}
		return 0
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if ra, rb := rank(a.Host), rank(b.Host); ra != rb {
			return ra < rb
		}
		if len(a.PathPrefix) != len(b.PathPrefix) {
			return len(a.PathPrefix) > len(b.PathPrefix)
		}
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.PathPrefix != b.PathPrefix {
			return a.PathPrefix < b.PathPrefix
		}
		return a.Backend < b.Backend
	})
}

// Backend returns the backend of c named name.
func (c *Config) Backend(name string) (*Backend, bool) {
	i := sort.Search(len(c.Backends), func(i int) bool { return c.Backends[i].Name >= name })
	if i < len(c.Backends) && c.Backends[i].Name == name {
		return &c.Backends[i], true
	}
	return nil, false
}

// Applier makes one HAProxy instance serve a Config. l7lb/apply implements
// it; the daemon calls it from one goroutine.
type Applier interface {
	// Apply makes HAProxy serve cfg: runtime-API changes where they
	// suffice, a validated reload otherwise. A frontend or backend that
	// HAProxy refuses is left out and reported in the result, the rest is
	// served. Safe to call repeatedly with the same cfg (no change, no
	// reload).
	Apply(ctx context.Context, cfg Config) (Result, error)
}

// Result says what one Apply did.
type Result struct {
	// Reloaded is true when HAProxy was reloaded (structural change or
	// server slots exhausted).
	Reloaded bool `json:"reloaded"`
	// RuntimeChanges counts runtime-API commands sent.
	RuntimeChanges int `json:"runtimeChanges"`
	// ReloadPending is true when a structural change waits for its
	// reload (debounced, or retried after a failed one); the applier's
	// background loop does it.
	ReloadPending bool `json:"reloadPending,omitempty"`
	// Problems are the parts left out by the applier (failed `haproxy -c`
	// for one frontend, an invalid certificate), in addition to the
	// Config's own.
	Problems []Problem `json:"problems,omitempty"`
}
