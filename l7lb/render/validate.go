package render

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/l7lb/model"
)

// Names HAProxy accepts for proxies, certificates and users, and what
// routes may hold.
var (
	proxyNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)
	certNameRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	hostRE      = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	pathRE      = regexp.MustCompile(`^/[!-~]*$`)
	userRE      = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)
	realmRE     = regexp.MustCompile(`^[A-Za-z0-9 _.,:/@-]{0,100}$`)
	hashRE      = regexp.MustCompile(`^[!-&(-\[\]-~]{1,512}$`) // printable, no ' or \
)

// Balance algorithms the renderer accepts, all of which take runtime
// weight changes (source gets `hash-type consistent` for that).
var balances = []string{"roundrobin", "leastconn", "source", "first", "random"}

// maxWeight is HAProxy's largest server weight.
const maxWeight = 256

// Reserved proxy names: the renderer's own stats frontend.
const StatsFrontend = "dcnet_stats"

// Validate returns the part of cfg HAProxy can be given and a Problem for
// everything left out: a bad frontend, backend or certificate goes alone
// (a route to a dropped backend goes with it), the rest stays. cfg is not
// modified; the result is normalized.
func Validate(cfg model.Config) (model.Config, []model.Problem) {
	v := validator{}
	out := model.Config{}
	backends := map[string]model.Mode{}
	for _, b := range cfg.Backends {
		if reason := v.backend(b, backends); reason != "" {
			v.problem("backend", b.Name, "%s", reason)
			continue
		}
		backends[b.Name] = b.Mode
		out.Backends = append(out.Backends, cloneBackend(b))
	}
	binds := map[string]string{}
	certs := map[string][]byte{}
	names := map[string]bool{}
	for _, f := range cfg.Frontends {
		if names[f.Name] {
			v.problem("frontend", f.Name, "a second frontend has the same name")
			continue
		}
		names[f.Name] = true
		nf, ok := v.frontend(f, backends, binds, certs)
		if ok {
			out.Frontends = append(out.Frontends, nf)
		}
	}
	out.Normalize()
	return out, v.problems
}

type validator struct {
	problems []model.Problem
}

func (v *validator) problem(kind, name, format string, args ...any) {
	v.problems = append(v.problems, model.Problem{Kind: kind, Name: name, Reason: fmt.Sprintf(format, args...)})
}

func validMode(m model.Mode) bool { return m == model.ModeHTTP || m == model.ModeTCP }

func cloneBackend(b model.Backend) model.Backend {
	b.Servers = slices.Clone(b.Servers)
	return b
}

// backend returns why b cannot be served, or "".
func (v *validator) backend(b model.Backend, seen map[string]model.Mode) string {
	switch {
	case !proxyNameRE.MatchString(b.Name):
		return fmt.Sprintf("name %q: use 1-100 of [A-Za-z0-9_.:-]", b.Name)
	case b.Name == StatsFrontend:
		return fmt.Sprintf("name %q is reserved for the stats frontend", b.Name)
	case seen[b.Name] != "":
		return "a second backend has the same name"
	case !validMode(b.Mode):
		return fmt.Sprintf("mode %q: use http or tcp", b.Mode)
	case b.Balance != "" && !slices.Contains(balances, b.Balance):
		return fmt.Sprintf("balance %q: use one of %s", b.Balance, strings.Join(balances, ", "))
	case b.Mode == model.ModeTCP && (b.Sticky || b.Auth != nil || b.HSTS || b.RedirectToHTTPS):
		return "sticky sessions, basic auth, HSTS and redirects need mode http"
	}
	if h := b.Health; h != nil {
		switch {
		case h.HTTP && h.Path != "" && !pathRE.MatchString(h.Path):
			return fmt.Sprintf("health check path %q: start with / and use no spaces", h.Path)
		case h.Interval < 0 || h.Timeout < 0 || h.Rise < 0 || h.Fall < 0:
			return "health check interval, timeout, rise and fall must not be negative"
		}
	}
	if a := b.Auth; a != nil {
		switch {
		case !userRE.MatchString(a.User):
			return fmt.Sprintf("auth user %q: use 1-64 of [A-Za-z0-9_.@-]", a.User)
		case !realmRE.MatchString(a.Realm):
			return fmt.Sprintf("auth realm %q: use letters, digits, spaces and _.,:/@-", a.Realm)
		case !hashRE.MatchString(a.PasswordHash):
			return "auth password (hash) is empty or holds spaces, quotes or backslashes"
		}
	}
	keys := map[string]bool{}
	for _, s := range b.Servers {
		switch {
		case s.Key == "":
			return "a server has no key"
		case keys[s.Key]:
			return fmt.Sprintf("server key %q appears twice", s.Key)
		case !s.Addr.IsValid() || s.Addr.Port() == 0 || s.Addr.Addr().IsUnspecified():
			return fmt.Sprintf("server %q: address %s needs an IP and a port", s.Key, s.Addr)
		case s.Weight < 0 || s.Weight > maxWeight:
			return fmt.Sprintf("server %q: weight %d out of range [1, %d]", s.Key, s.Weight, maxWeight)
		}
		keys[s.Key] = true
	}
	return ""
}

// frontend checks f and returns what of it can be served.
func (v *validator) frontend(f model.Frontend, backends map[string]model.Mode, binds map[string]string, certs map[string][]byte) (model.Frontend, bool) {
	bind := f.Bind.String()
	if !f.Bind.Addr().IsValid() {
		bind = fmt.Sprintf("*:%d", f.Bind.Port())
	}
	reason := ""
	switch {
	case !proxyNameRE.MatchString(f.Name):
		reason = fmt.Sprintf("name %q: use 1-100 of [A-Za-z0-9_.:-]", f.Name)
	case f.Name == StatsFrontend:
		reason = fmt.Sprintf("name %q is reserved for the stats frontend", f.Name)
	case backends[f.Name] != "":
		reason = "a backend has the same name; frontends and backends need distinct names"
	case !validMode(f.Mode):
		reason = fmt.Sprintf("mode %q: use http or tcp", f.Mode)
	case f.Bind.Port() == 0:
		reason = "bind needs a port"
	case binds[bind] != "":
		reason = fmt.Sprintf("bind %s is already taken by frontend %s", bind, binds[bind])
	case f.RedirectToHTTPS && (f.Mode != model.ModeHTTP || f.TLS != nil):
		reason = "redirect to HTTPS needs a plain HTTP frontend"
	}
	if reason != "" {
		v.problem("frontend", f.Name, "%s", reason)
		return f, false
	}
	out := f
	out.TLS = nil
	out.Routes = nil
	if f.TLS != nil {
		tlsOut := &model.TLS{}
		for _, c := range f.TLS.Certs {
			if err := v.cert(c, certs); err != "" {
				v.problem("cert", c.Name, "frontend %s: %s", f.Name, err)
				continue
			}
			tlsOut.Certs = append(tlsOut.Certs, c)
		}
		if len(tlsOut.Certs) == 0 {
			v.problem("frontend", f.Name, "TLS frontend without a valid certificate")
			return f, false
		}
		out.TLS = tlsOut
	}
	if out.Default != "" {
		if m, ok := backends[out.Default]; !ok || m != f.Mode {
			v.problem("frontend", f.Name, "default backend %q %s; serving without a default", out.Default, missingOrMode(ok, m, f.Mode))
			out.Default = ""
		}
	}
	seen := map[string]bool{}
	routes := slices.Clone(f.Routes)
	model.SortRoutes(routes) // the first of two equal routes is the one kept
	for _, r := range routes {
		if reason := v.route(f, r, backends); reason != "" {
			v.problem("route", routeName(f.Name, r), "%s", reason)
			continue
		}
		k := MapKey(f.Mode, r)
		if seen[k] {
			v.problem("route", routeName(f.Name, r), "another route has the same host and path")
			continue
		}
		seen[k] = true
		out.Routes = append(out.Routes, r)
	}
	binds[bind] = f.Name
	return out, true
}

func missingOrMode(ok bool, got, want model.Mode) string {
	if !ok {
		return "does not exist (or was left out)"
	}
	return fmt.Sprintf("has mode %s, the frontend %s", got, want)
}

func routeName(fe string, r model.Route) string {
	return fmt.Sprintf("%s:%s%s", fe, r.Host, r.PathPrefix)
}

// route returns why r of frontend f cannot be served, or "".
func (v *validator) route(f model.Frontend, r model.Route, backends map[string]model.Mode) string {
	m, ok := backends[r.Backend]
	switch {
	case !ok || m != f.Mode:
		return fmt.Sprintf("backend %q %s", r.Backend, missingOrMode(ok, m, f.Mode))
	case r.Host != "" && !hostRE.MatchString(strings.ToLower(r.Host)):
		return fmt.Sprintf("host %q is not a host name (or *.name)", r.Host)
	case r.PathPrefix != "" && !pathRE.MatchString(r.PathPrefix):
		return fmt.Sprintf("path %q: start with / and use no spaces", r.PathPrefix)
	case f.Mode == model.ModeTCP && f.TLS == nil:
		return "a TCP frontend without TLS has no host to route by; use its default backend"
	case f.Mode == model.ModeTCP && (r.Host == "" || r.PathPrefix != ""):
		return "TCP routes match the TLS SNI only: give a host and no path (or use the default backend)"
	}
	return ""
}

// cert returns why c cannot be served, or "".
func (v *validator) cert(c model.Cert, seen map[string][]byte) string {
	if !certNameRE.MatchString(c.Name) {
		return fmt.Sprintf("name %q: use 1-100 of [A-Za-z0-9_.-]", c.Name)
	}
	if prev, ok := seen[c.Name]; ok && string(prev) != string(c.PEM) {
		return "another certificate has the same name and other contents"
	}
	if reason := CheckPEM(c.PEM); reason != "" {
		return reason
	}
	seen[c.Name] = c.PEM
	return ""
}

// pemVerdicts caches CheckPEM by the SHA-256 of the PEM: every Apply
// checks every certificate, and parsing is the costly part.
var pemVerdicts = struct {
	sync.Mutex
	m map[[sha256.Size]byte]string
}{m: map[[sha256.Size]byte]string{}}

// maxPEMVerdicts bounds the cache; it is emptied when full.
const maxPEMVerdicts = 4096

// CheckPEM returns why pemData is not a certificate chain with its private
// key, or "".
func CheckPEM(pemData []byte) string {
	sum := sha256.Sum256(pemData)
	pemVerdicts.Lock()
	v, ok := pemVerdicts.m[sum]
	pemVerdicts.Unlock()
	if ok {
		return v
	}
	v = checkPEM(pemData)
	pemVerdicts.Lock()
	if len(pemVerdicts.m) >= maxPEMVerdicts {
		clear(pemVerdicts.m)
	}
	pemVerdicts.m[sum] = v
	pemVerdicts.Unlock()
	return v
}

func checkPEM(pemData []byte) string {
	if _, err := tls.X509KeyPair(pemData, pemData); err != nil {
		return fmt.Sprintf("not a PEM certificate with its private key: %v", err)
	}
	for rest := pemData; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
				return fmt.Sprintf("certificate in the chain does not parse: %v", err)
			}
		}
	}
	return ""
}
