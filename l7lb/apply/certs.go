package apply

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/render"
)

// certChange is new contents for a certificate path, new to HAProxy or not.
type certChange struct {
	name, path string
	pem        []byte
	fresh      bool // not in HAProxy's store yet: `new ssl cert` first
}

// syncCerts brings the certificates of loaded TLS frontends to the wanted
// ones at runtime, in three rounds: contents (`new ssl cert` for a path
// HAProxy does not have, `set ssl cert` + `commit ssl cert`), then the
// crt-lists (`add ssl crt-list`, `del ssl crt-list`; the first,
// default, certificate is structural), then `del ssl cert` of those no
// crt-list names any more. Contents HAProxy refuses keep the previous
// ones serving and are not sent again until they change.
func (a *Applier) syncCerts(ctx context.Context) (int, error) {
	dir := a.loaded.dir
	var changes []certChange
	seen := map[string]bool{}
	want := map[string][]string{} // frontend → paths
	for _, f := range a.cfg.Frontends {
		if f.TLS == nil || a.live.crtLists[f.Name] == nil {
			continue // not loaded as a TLS frontend: the reload brings it
		}
		for _, c := range f.TLS.Certs {
			p := render.CertPath(dir, c.Name)
			want[f.Name] = append(want[f.Name], p)
			cur, have := a.live.certs[p]
			if seen[p] || bytes.Equal(cur, c.PEM) || bytes.Equal(a.refused[p], c.PEM) {
				continue
			}
			seen[p] = true
			if err := haproxy.CheckPayload(c.PEM); err != nil {
				a.setProblem("cert", c.Name, "contents not sent at runtime: %v; the next reload loads them", err)
				a.pending = true
				continue
			}
			changes = append(changes, certChange{name: c.Name, path: p, pem: c.PEM, fresh: !have})
		}
	}
	sent := 0
	var errs []error
	if len(changes) > 0 {
		n, err := a.sendCertContents(ctx, changes)
		sent += n
		errs = append(errs, err)
	}
	n, err := a.syncCrtLists(ctx, want)
	sent += n
	errs = append(errs, err)
	return sent, errors.Join(errs...)
}

// sendCertContents sends new certificate contents, one transaction each.
func (a *Applier) sendCertContents(ctx context.Context, changes []certChange) (int, error) {
	var ops []haproxy.Op
	first := make([]int, len(changes))
	for i, c := range changes {
		first[i] = len(ops)
		if c.fresh {
			ops = append(ops, haproxy.NewSSLCert(c.path))
		}
		ops = append(ops, haproxy.SetSSLCert(c.path, c.pem), haproxy.CommitSSLCert(c.path))
	}
	res, err := a.rt.Batch(ctx, ops)
	sent := len(ops)
	a.metrics.runtimeCommands += uint64(sent)
	var errs []error
	var aborts []haproxy.Op
	for i, c := range changes {
		end := len(ops)
		if i+1 < len(changes) {
			end = first[i+1]
		}
		if e := errors.Join(res[first[i]:end]...); e != nil {
			a.metrics.runtimeFailures++
			a.setProblem("cert", c.name, "HAProxy refused the contents, the previous certificate (if any) stays: %v", e)
			errs = append(errs, e)
			aborts = append(aborts, haproxy.AbortSSLCert(c.path))
			a.refused[c.path] = c.pem
			continue
		}
		a.clearProblem("cert", c.name)
		delete(a.refused, c.path)
		a.live.certs[c.path] = c.pem
	}
	if len(aborts) > 0 {
		a.rt.Batch(ctx, aborts)
		sent += len(aborts)
	}
	return sent, errors.Join(append(errs, err)...)
}

// syncCrtLists adds and removes the certificates of each loaded TLS
// frontend's crt-list (never its first), then deletes certificates no
// crt-list names.
func (a *Applier) syncCrtLists(ctx context.Context, want map[string][]string) (int, error) {
	type entry struct {
		fe, path string
		add      bool
	}
	var entries []entry
	var ops []haproxy.Op
	fes := make([]string, 0, len(want))
	for fe := range want {
		fes = append(fes, fe)
	}
	sort.Strings(fes)
	for _, fe := range fes {
		cur := a.live.crtLists[fe]
		list := render.CrtListPath(a.loaded.dir, fe)
		for _, p := range want[fe][1:] {
			if _, ok := a.live.certs[p]; ok && !slices.Contains(cur, p) {
				entries = append(entries, entry{fe, p, true})
				ops = append(ops, haproxy.AddCrtList(list, p))
			}
		}
		for _, p := range cur[1:] {
			if !slices.Contains(want[fe], p) {
				entries = append(entries, entry{fe, p, false})
				ops = append(ops, haproxy.DelCrtList(list, p))
			}
		}
	}
	sent := 0
	var errs []error
	if len(ops) > 0 {
		res, err := a.rt.Batch(ctx, ops)
		sent += len(ops)
		a.metrics.runtimeCommands += uint64(len(ops))
		errs = append(errs, err)
		for i, e := range entries {
			if res[i] != nil {
				a.metrics.runtimeFailures++
				errs = append(errs, res[i])
				continue
			}
			cur := a.live.crtLists[e.fe]
			if e.add {
				a.live.crtLists[e.fe] = append(slices.Clone(cur), e.path)
			} else {
				a.live.crtLists[e.fe] = slices.DeleteFunc(slices.Clone(cur), func(p string) bool { return p == e.path })
			}
		}
	}
	// Certificates no crt-list names any more leave HAProxy's store.
	used := map[string]bool{}
	for _, list := range a.live.crtLists {
		for _, p := range list {
			used[p] = true
		}
	}
	var dels []haproxy.Op
	var paths []string
	for p := range a.live.certs {
		if !used[p] {
			paths = append(paths, p)
			dels = append(dels, haproxy.DelSSLCert(p))
		}
	}
	if len(dels) > 0 {
		res, err := a.rt.Batch(ctx, dels)
		sent += len(dels)
		a.metrics.runtimeCommands += uint64(len(dels))
		errs = append(errs, err)
		for i, p := range paths {
			if res[i] == nil {
				delete(a.live.certs, p)
			}
		}
	}
	return sent, errors.Join(errs...)
}
