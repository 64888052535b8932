package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/pools"
)

// savedFile is the name of the last good configuration in StateDir.
const savedFile = "last-config.json"

// saved is the last good configuration on disk, with what Config's JSON
// leaves out (certificate contents, password hashes): the file is 0600.
type saved struct {
	AppliedAt time.Time         `json:"appliedAt"`
	Mode      string            `json:"mode"`
	Pool      string            `json:"pool,omitempty"`
	Config    model.Config      `json:"config"`
	Certs     map[string][]byte `json:"certs,omitempty"`
	Passwords map[string]string `json:"passwords,omitempty"`
	// Binds are the frontends' binds by name (model.BindString: Bind's
	// own JSON loses the port of an every-address bind).
	Binds map[string]string `json:"binds"`
}

// fingerprint identifies a configuration with its secrets.
func fingerprint(s saved) string {
	s.AppliedAt = time.Time{}
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (d *Daemon) savedPath() string {
	if d.opts.StateDir == "" {
		return ""
	}
	return filepath.Join(d.opts.StateDir, savedFile)
}

// save writes cfg as the last good configuration when it differs from
// the last one written.
func (d *Daemon) save(cfg model.Config, appliedAt time.Time) {
	path := d.savedPath()
	if path == "" {
		return
	}
	s := saved{AppliedAt: appliedAt, Mode: d.mode(), Pool: d.opts.Pool, Config: cfg, Certs: map[string][]byte{},
		Passwords: map[string]string{}, Binds: map[string]string{}}
	for _, f := range cfg.Frontends {
		s.Binds[f.Name] = model.BindString(f.Bind)
		if f.TLS != nil {
			for _, c := range f.TLS.Certs {
				s.Certs[c.Name] = c.PEM
			}
		}
	}
	for _, b := range cfg.Backends {
		if b.Auth != nil {
			s.Passwords[b.Name] = b.Auth.PasswordHash
		}
	}
	fp := fingerprint(s)
	if fp == d.saved {
		return
	}
	data, err := json.Marshal(s)
	if err == nil {
		err = pools.WriteFileAtomic(path, data)
	}
	if err != nil {
		d.metrics.diskErrors.Inc()
		d.log.Warn("last good configuration not saved", "file", path, "err", err)
		return
	}
	d.saved = fp
}

// loadSaved reads the last good configuration of this mode and pool.
func (d *Daemon) loadSaved() (saved, error) {
	data, err := os.ReadFile(d.savedPath())
	if err != nil {
		return saved{}, err
	}
	var s saved
	if err := json.Unmarshal(data, &s); err != nil {
		return saved{}, fmt.Errorf("%s: %w", d.savedPath(), err)
	}
	if s.Mode != d.mode() || s.Pool != d.opts.Pool {
		return saved{}, fmt.Errorf("%s is of mode %s pool %q, this instance serves %s pool %q", d.savedPath(), s.Mode, s.Pool, d.mode(), d.opts.Pool)
	}
	for i := range s.Config.Frontends {
		f := &s.Config.Frontends[i]
		b, err := model.ParseBind(s.Binds[f.Name])
		if err != nil {
			return saved{}, fmt.Errorf("%s: frontend %s: %w", d.savedPath(), f.Name, err)
		}
		f.Bind = b
		if t := f.TLS; t != nil {
			for j := range t.Certs {
				t.Certs[j].PEM = s.Certs[t.Certs[j].Name]
			}
		}
	}
	for i := range s.Config.Backends {
		if a := s.Config.Backends[i].Auth; a != nil {
			a.PasswordHash = s.Passwords[s.Config.Backends[i].Name]
		}
	}
	return s, nil
}

// applySaved serves the last good configuration at start, before the
// sources answer: HAProxy comes up serving what it served, even while
// Marathon or etcd are down. The health endpoint still tells its age.
func (d *Daemon) applySaved(ctx context.Context) {
	if d.savedPath() == "" {
		return
	}
	s, err := d.loadSaved()
	switch {
	case os.IsNotExist(err):
		return
	case err != nil:
		d.metrics.diskErrors.Inc()
		d.log.Warn("last good configuration not used", "err", err)
		return
	}
	d.saved = fingerprint(s)
	if d.apply(ctx, s.Config, true, s.AppliedAt) {
		d.log.Info("serving the last good configuration from disk until the sources answer", "file", d.savedPath(), "applied", s.AppliedAt)
	}
}
