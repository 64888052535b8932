package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/render"
)

// part is a frontend, backend or certificate to leave out.
type part struct{ kind, name string }

// reload renders the wanted configuration into a new generation, leaves
// out what `haproxy -c` refuses one part at a time, installs it and
// reloads (or starts) HAProxy. A bind that fails at reload drops its
// frontend the same way. On failure the previous configuration keeps
// serving and the reload is retried with backoff.
func (a *Applier) reload(ctx context.Context, now time.Time) error {
	a.pending = true
	a.lastReload = now
	cfg := a.cfg
	var extra []model.Problem
	for attempt := 0; ; attempt++ {
		c, more, err := a.prepare(ctx, cfg)
		extra = append(extra, more...)
		if err != nil {
			return a.failReload(now, err)
		}
		prev, _ := os.ReadFile(a.h.ConfigPath())
		if err := writeAtomic(a.h.ConfigPath(), c.out.Config, 0o600); err != nil {
			os.RemoveAll(c.dir)
			return a.failReload(now, err)
		}
		var lerr error
		if a.h.Running() {
			lerr = a.h.Reload(ctx)
		} else {
			lerr = a.h.Start(ctx)
		}
		if lerr == nil {
			a.installed(c, extra)
			return nil
		}
		// The previous file is what serves: a restart must load it.
		if prev != nil {
			writeAtomic(a.h.ConfigPath(), prev, 0o600)
		}
		os.RemoveAll(c.dir)
		parts := proxiesOf(startAlerts(lerr), c.cfg)
		if len(parts) == 0 || attempt >= maxIsolationRounds {
			return a.failReload(now, lerr)
		}
		cfg = c.cfg
		for _, p := range parts {
			var dropped []model.Problem
			cfg, dropped = a.reject(cfg, p, "HAProxy refused it when loading: "+alertFor(startAlerts(lerr), p))
			extra = append(extra, dropped...)
		}
	}
}

// candidate is a rendered and validated generation.
type candidate struct {
	out  *render.Output
	want map[string]*backendSlots
	gen  int
	dir  string
	// cfg is what was rendered: the wanted Config less refused parts.
	cfg model.Config
}

// prepare renders cfg into a new generation directory and validates it
// with `haproxy -c`, leaving out refused parts.
func (a *Applier) prepare(ctx context.Context, cfg model.Config) (*candidate, []model.Problem, error) {
	var extra []model.Problem
	want := map[string]*backendSlots{}
	for name, w := range a.want {
		c := &backendSlots{slots: append([]render.Slot(nil), w.slots...), leaving: map[int]time.Time{}}
		for i, t := range w.leaving {
			c.leaving[i] = t
		}
		c.freeLeaving(a.opts.SlotStep)
		want[name] = c
	}
	a.gen++
	gen := a.gen
	dir := filepath.Join(a.opts.Dir, "gen", fmt.Sprint(gen))
	for round := 0; ; round++ {
		os.RemoveAll(dir)
		slots := map[string][]render.Slot{}
		for _, b := range cfg.Backends {
			slots[b.Name] = want[b.Name].slots
		}
		out, err := render.Render(render.Input{Config: cfg, Slots: slots, Dir: dir}, a.opts.Render)
		if err != nil {
			return nil, extra, err
		}
		if err = writeGeneration(dir, out); err != nil {
			os.RemoveAll(dir)
			return nil, extra, err
		}
		cerr := a.h.Check(ctx, filepath.Join(dir, configName))
		if cerr == nil {
			return &candidate{out: out, want: want, gen: gen, dir: dir, cfg: cfg}, extra, nil
		}
		a.metrics.checkFailures++
		var ce *haproxy.CheckError
		parts := []part(nil)
		if errors.As(cerr, &ce) {
			parts = attribute(ce.Alerts, out, dir, cfg)
		}
		if len(parts) == 0 || round >= maxIsolationRounds {
			os.RemoveAll(dir)
			return nil, extra, fmt.Errorf("haproxy -c refused the configuration and named no frontend, backend or certificate to leave out: %w", cerr)
		}
		for _, p := range parts {
			var dropped []model.Problem
			cfg, dropped = a.reject(cfg, p, "haproxy -c: "+alertFor(ce.Alerts, p))
			extra = append(extra, dropped...)
		}
	}
}

// reject remembers p as refused and leaves it out of cfg.
func (a *Applier) reject(cfg model.Config, p part, reason string) (model.Config, []model.Problem) {
	if fp, ok := fingerprint(cfg, p.kind, p.name); ok {
		a.rejected[rejectKey(p.kind, p.name)] = rejection{kind: p.kind, name: p.name, fingerprint: fp, reason: reason}
	}
	a.log.Warn("l7lb apply: left out a part HAProxy refused", "kind", p.kind, "name", p.name, "reason", reason)
	out, more := drop(cfg, p.kind, p.name)
	return out, append([]model.Problem{{Kind: p.kind, Name: p.name, Reason: reason}}, more...)
}

// installed records a successful load.
func (a *Applier) installed(c *candidate, extra []model.Problem) {
	out, want, gen, cfg := c.out, c.want, c.gen, c.cfg
	l := &loadedState{gen: gen, dir: c.dir, cfg: cfg, sig: signature(cfg, want),
		capacity: map[string]int{}, mapPaths: map[string]string{}}
	live := newLiveState()
	for _, b := range cfg.Backends {
		l.capacity[b.Name] = len(want[b.Name].slots)
		live.slots[b.Name] = append([]render.Slot(nil), want[b.Name].slots...)
	}
	for fe, m := range out.Maps {
		l.mapPaths[fe] = m.Path
		live.maps[fe] = m.Entries
	}
	for p, pem := range out.Certs {
		live.certs[p] = pem
	}
	for fe, list := range out.CrtLists {
		live.crtLists[fe] = list
	}
	a.loaded, a.want, a.cfg = l, want, cfg
	a.cfgProblems = append(a.cfgProblems, extra...)
	a.live, a.file = live, live.clone()
	a.pending, a.failures, a.nextTry, a.fileDirty = false, 0, time.Time{}, false
	a.starts = a.h.Starts()
	a.metrics.reloads++
	a.clearProblem("reload", "haproxy")
	for p := range a.refused {
		delete(a.refused, p)
	}
	for k := range a.applyProblems {
		if strings.HasPrefix(k, "server/") || strings.HasPrefix(k, "cert/") || strings.HasPrefix(k, "frontend/") {
			delete(a.applyProblems, k)
		}
	}
	if err := pruneGenerations(a.opts.Dir, gen, keepGenerations); err != nil {
		a.log.Warn("l7lb apply: prune old generations", "err", err)
	}
	a.log.Info("l7lb apply: haproxy loaded a new configuration", "generation", gen, "frontends", len(cfg.Frontends), "backends", len(cfg.Backends))
}

// failReload records a failed reload and when to try again.
func (a *Applier) failReload(now time.Time, err error) error {
	a.failures++
	a.metrics.reloadFailures++
	backoff := min(time.Duration(1<<min(a.failures, 6))*time.Second, maxReloadBackoff)
	a.nextTry = now.Add(backoff)
	a.setProblem("reload", "haproxy", "the new configuration is not served, the previous one is (retry in %v): %v", backoff, err)
	a.log.Error("l7lb apply: reload failed; the previous configuration keeps serving", "err", err, "retry in", backoff)
	return err
}

// attribute maps `haproxy -c` alerts to the parts they are about.
func attribute(alerts []haproxy.Alert, out *render.Output, dir string, cfg model.Config) []part {
	var parts []part
	add := func(p part) {
		for _, q := range parts {
			if q == p {
				return
			}
		}
		parts = append(parts, p)
	}
	cfgFile := filepath.Join(dir, configName)
	for _, al := range alerts {
		// A certificate named in the alert is the most precise part: the
		// line is its frontend's bind.
		if p, ok := fileOf(al.File+" "+al.Text, dir); ok && p.kind == "cert" {
			add(p)
			continue
		}
		if al.File == cfgFile && al.Line > 0 {
			if s, ok := out.SectionAt(al.Line); ok {
				switch s.Kind {
				case "frontend", "backend":
					add(part{s.Kind, s.Name})
					continue
				case "userlist":
					add(part{"backend", s.Name})
					continue
				}
			}
		}
		if p, ok := fileOf(al.File+" "+al.Text, dir); ok {
			add(p)
			continue
		}
		for _, p := range proxiesOf([]haproxy.Alert{al}, cfg) {
			add(p)
		}
	}
	return parts
}

// fileOf finds a certificate or a frontend's crt-list or map named in s.
func fileOf(s, dir string) (part, bool) {
	for _, f := range []struct{ sub, kind, ext string }{
		{"certs", "cert", ""}, {"crt-lists", "frontend", ".crtlist"}, {"maps", "frontend", ".map"},
	} {
		prefix := filepath.Join(dir, f.sub) + "/"
		i := strings.Index(s, prefix)
		if i < 0 {
			continue
		}
		rest := s[i+len(prefix):]
		end := strings.IndexAny(rest, "' :]\"")
		if end >= 0 {
			rest = rest[:end]
		}
		return part{f.kind, strings.TrimSuffix(rest, f.ext)}, rest != ""
	}
	return part{}, false
}

// proxiesOf returns the frontends and backends of cfg that alerts name.
func proxiesOf(alerts []haproxy.Alert, cfg model.Config) []part {
	var parts []part
	for _, al := range alerts {
		if al.Proxy == "" {
			continue
		}
		for _, f := range cfg.Frontends {
			if f.Name == al.Proxy {
				parts = append(parts, part{"frontend", f.Name})
			}
		}
		if _, ok := cfg.Backend(al.Proxy); ok {
			parts = append(parts, part{"backend", al.Proxy})
		}
	}
	return parts
}

// alertFor returns the text of the alerts about p.
func alertFor(alerts []haproxy.Alert, p part) string {
	var msgs []string
	for _, al := range alerts {
		if al.Proxy == p.name || strings.Contains(al.Text, p.name) || strings.Contains(al.File, p.name) {
			msgs = append(msgs, al.Text)
		}
	}
	if len(msgs) == 0 {
		for _, al := range alerts {
			msgs = append(msgs, al.String())
		}
	}
	return strings.Join(msgs, "; ")
}

// startAlerts returns the alerts of a failed reload or start.
func startAlerts(err error) []haproxy.Alert {
	var re *haproxy.ReloadError
	if errors.As(err, &re) {
		return re.Alerts()
	}
	var se *haproxy.StartError
	if errors.As(err, &se) {
		return se.Alerts()
	}
	return nil
}
