package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/l7lb/model"
)

// LogApplier is an Applier that only logs what it is given: a
// dcnet-l7lb run with --applier log builds and reports without an
// HAProxy (dry runs, tests of sources). Safe for concurrent use.
type LogApplier struct {
	Log *slog.Logger

	mu   sync.Mutex
	last model.Config
	n    int
}

var _ model.Applier = (*LogApplier)(nil)

// Apply implements model.Applier: it logs a summary when cfg differs
// from the previous one.
func (a *LogApplier) Apply(_ context.Context, cfg model.Config) (model.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if Describe(cfg) == Describe(a.last) && a.n > 0 {
		return model.Result{}, nil
	}
	a.last = cfg
	a.n++
	servers := 0
	for _, b := range cfg.Backends {
		servers += len(b.Servers)
	}
	if a.Log != nil {
		a.Log.Info("configuration (not applied: log applier)", "frontends", len(cfg.Frontends), "backends", len(cfg.Backends),
			"servers", servers, "problems", len(cfg.Problems))
		a.Log.Debug("configuration", "config", Describe(cfg))
	}
	return model.Result{}, nil
}

// FakeApplier is an Applier for tests: it records every Config, answers
// Reloaded when the frontends' or backends' names changed and counts one
// runtime change per server added, removed or changed otherwise; Err,
// when set, fails the next applies. String prints the last Config.
type FakeApplier struct {
	mu      sync.Mutex
	configs []model.Config
	// Err fails Apply while set.
	Err error
	// Problems are added to every Result.
	Problems []model.Problem
	// OnApply, when set before the first Apply, sees every Config
	// applied (under the applier's lock: it must not call back).
	OnApply func(model.Config)
}

var _ model.Applier = (*FakeApplier)(nil)

// Apply implements model.Applier.
func (f *FakeApplier) Apply(_ context.Context, cfg model.Config) (model.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return model.Result{}, f.Err
	}
	var res model.Result
	if n := len(f.configs); n > 0 {
		prev := f.configs[n-1]
		res.Reloaded = !slices.Equal(names(prev), names(cfg))
		res.RuntimeChanges = serverChanges(prev, cfg)
	} else {
		res.Reloaded = true
	}
	res.Problems = f.Problems
	f.configs = append(f.configs, cfg)
	if f.OnApply != nil {
		f.OnApply(cfg)
	}
	return res, nil
}

// SetErr sets Err under the applier's lock.
func (f *FakeApplier) SetErr(err error) {
	f.mu.Lock()
	f.Err = err
	f.mu.Unlock()
}

// Applies counts the successful applies.
func (f *FakeApplier) Applies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.configs)
}

// Last returns the last Config applied.
func (f *FakeApplier) Last() (model.Config, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.configs) == 0 {
		return model.Config{}, false
	}
	return f.configs[len(f.configs)-1], true
}

// String prints the last Config (see Describe).
func (f *FakeApplier) String() string {
	cfg, _ := f.Last()
	return Describe(cfg)
}

func names(c model.Config) []string {
	var out []string
	for _, f := range c.Frontends {
		out = append(out, "f "+f.Name+" "+model.BindString(f.Bind))
	}
	for _, b := range c.Backends {
		out = append(out, "b "+b.Name)
	}
	return out
}

func serverChanges(a, b model.Config) int {
	servers := func(c model.Config) map[string]model.Server {
		m := map[string]model.Server{}
		for _, be := range c.Backends {
			for _, s := range be.Servers {
				m[be.Name+"/"+s.Key] = s
			}
		}
		return m
	}
	x, y := servers(a), servers(b)
	n := 0
	for k, s := range x {
		if t, ok := y[k]; !ok || t != s {
			n++
		}
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			n++
		}
	}
	return n
}

// Describe prints a Config one item a line, for logs and tests:
//
//	frontend marathon_http_in *:80 http default=-
//	  route web.example.com/api -> web_10000
//	backend web_10000 http roundrobin check=http:/health
//	  server web.1:0 10.0.0.1:31000 weight=1
//	problem app /bad: reason
func Describe(c model.Config) string {
	var b strings.Builder
	for _, f := range c.Frontends {
		fmt.Fprintf(&b, "frontend %s %s %s default=%s", f.Name, model.BindString(f.Bind), f.Mode, orDash(f.Default))
		if f.TLS != nil {
			var certs []string
			for _, c := range f.TLS.Certs {
				certs = append(certs, c.Name)
			}
			fmt.Fprintf(&b, " tls=%s", strings.Join(certs, ","))
		}
		if f.RedirectToHTTPS {
			b.WriteString(" redirect-to-https")
		}
		b.WriteByte('\n')
		for _, r := range f.Routes {
			fmt.Fprintf(&b, "  route %s%s -> %s\n", orStar(r.Host), r.PathPrefix, r.Backend)
		}
	}
	for _, be := range c.Backends {
		fmt.Fprintf(&b, "backend %s %s %s", be.Name, be.Mode, be.Balance)
		if h := be.Health; h != nil {
			if h.HTTP {
				fmt.Fprintf(&b, " check=http:%s", h.Path)
			} else {
				b.WriteString(" check=tcp")
			}
		}
		for _, flag := range []struct {
			on   bool
			name string
		}{{be.Sticky, "sticky"}, {be.Auth != nil, "auth"}, {be.RedirectToHTTPS, "redirect-to-https"}, {be.HSTS, "hsts"}} {
			if flag.on {
				b.WriteString(" " + flag.name)
			}
		}
		b.WriteByte('\n')
		for _, s := range be.Servers {
			fmt.Fprintf(&b, "  server %s %s weight=%d", s.Key, s.Addr, s.Weight)
			if s.Draining {
				b.WriteString(" draining")
			}
			b.WriteByte('\n')
		}
	}
	for _, p := range c.Problems {
		fmt.Fprintf(&b, "problem %s %s: %s\n", p.Kind, p.Name, p.Reason)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
