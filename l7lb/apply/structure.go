package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/render"
)

// The structure of a configuration is everything a runtime command cannot
// change: frontends (binds, modes, default TLS certificate, redirects,
// default backends, the kinds of their routes), backends (everything but
// their servers) and the slot count of each backend. Two configurations
// of equal structure differ only in servers, map entries and certificate
// contents, which the runtime API changes.

type structFrontend struct {
	model.Frontend
	Kinds render.RouteKinds `json:"kinds"`
	Certs []string          `json:"certs,omitempty"`
}

type structBackend struct {
	model.Backend
	Capacity int `json:"capacity"`
}

// signature is the structure of cfg with the slot counts of want.
func signature(cfg model.Config, want map[string]*backendSlots) string {
	var s struct {
		Frontends []structFrontend
		Backends  []structBackend
	}
	for _, f := range cfg.Frontends {
		sf := structFrontend{Frontend: f, Kinds: render.KindsOf(f)}
		sf.Routes = nil
		if f.TLS != nil {
			// Only the default certificate: others join and leave the
			// crt-list at runtime.
			sf.Certs = []string{f.TLS.Certs[0].Name}
			sf.TLS = nil
		}
		s.Frontends = append(s.Frontends, sf)
	}
	for _, b := range cfg.Backends {
		sb := structBackend{Backend: b}
		sb.Servers = nil
		if w := want[b.Name]; w != nil {
			sb.Capacity = len(w.slots)
		}
		if b.Auth != nil {
			// The password hash is json:"-" but part of the structure.
			auth := *b.Auth
			auth.Realm += "\x00" + auth.PasswordHash
			sb.Auth = &auth
		}
		s.Backends = append(s.Backends, sb)
	}
	return hashJSON(s)
}

func hashJSON(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// rejection is a part HAProxy refused, remembered by its fingerprint so
// that the same part is left out again without another `haproxy -c`.
type rejection struct {
	kind, name  string
	fingerprint string
	reason      string
}

func rejectKey(kind, name string) string { return kind + "/" + name }

// fingerprint identifies the part of cfg a rejection is about, without
// what cannot make `haproxy -c` fail (servers, routes: they are checked by
// Validate and live in slots and maps).
func fingerprint(cfg model.Config, kind, name string) (string, bool) {
	switch kind {
	case "frontend":
		for _, f := range cfg.Frontends {
			if f.Name == name {
				f.Routes = nil
				var pems []string
				if f.TLS != nil {
					for _, c := range f.TLS.Certs {
						pems = append(pems, c.Name, string(c.PEM))
					}
				}
				return hashJSON([]any{f, pems}), true
			}
		}
	case "backend":
		if b, ok := cfg.Backend(name); ok {
			bb := *b
			bb.Servers = nil
			var secret string
			if bb.Auth != nil {
				secret = bb.Auth.PasswordHash
			}
			return hashJSON([]any{bb, secret}), true
		}
	case "cert":
		for _, f := range cfg.Frontends {
			if f.TLS == nil {
				continue
			}
			for _, c := range f.TLS.Certs {
				if c.Name == name {
					return hashJSON(string(c.PEM)), true
				}
			}
		}
	}
	return "", false
}

// drop removes one part from cfg (and, through Validate, what depended on
// it: routes to a dropped backend, frontends left without certificates)
// and returns the problems of the dependents.
func drop(cfg model.Config, kind, name string) (model.Config, []model.Problem) {
	out := cfg
	out.Frontends, out.Backends = nil, nil
	for _, f := range cfg.Frontends {
		if kind == "frontend" && f.Name == name {
			continue
		}
		if kind == "cert" && f.TLS != nil {
			t := &model.TLS{}
			for _, c := range f.TLS.Certs {
				if c.Name != name {
					t.Certs = append(t.Certs, c)
				}
			}
			f.TLS = t
		}
		out.Frontends = append(out.Frontends, f)
	}
	for _, b := range cfg.Backends {
		if kind == "backend" && b.Name == name {
			continue
		}
		out.Backends = append(out.Backends, b)
	}
	return render.Validate(out)
}

// dropRejected leaves out the parts HAProxy refused before, as long as
// they are unchanged; a changed part gets another chance.
func (a *Applier) dropRejected(cfg model.Config) (model.Config, []model.Problem) {
	var problems []model.Problem
	for key, r := range a.rejected {
		fp, ok := fingerprint(cfg, r.kind, r.name)
		if !ok || fp != r.fingerprint {
			delete(a.rejected, key)
			continue
		}
		var more []model.Problem
		cfg, more = drop(cfg, r.kind, r.name)
		problems = append(problems, model.Problem{Kind: r.kind, Name: r.name, Reason: r.reason})
		problems = append(problems, more...)
	}
	return cfg, problems
}
