package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/model"
)

// Handler serves the API of l7lbapi: status, health, pools, metrics and
// Marathon-LB's built-in endpoints.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+l7lbapi.PathStatus, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, d.Status()) })
	health := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ok, reason := d.health(); !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, reason)
			return
		}
		fmt.Fprintln(w, "ok")
	}
	mux.HandleFunc("GET "+l7lbapi.PathHealth, health)
	mux.HandleFunc("GET "+l7lbapi.PathMLBHealth, health)
	mux.HandleFunc("GET "+l7lbapi.PathMLBConfig, d.serveHAProxyConfig)
	mux.Handle("GET "+l7lbapi.PathMetrics, promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	d.poolRoutes(mux)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Header().Set("Content-Type", l7lbapi.ContentJSON)
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, body l7lbapi.ErrorBody) { writeJSON(w, code, body) }

// serveHAProxyConfig is Marathon-LB's /_haproxy_getconfig: the running
// haproxy.cfg, when the applier can show it.
func (d *Daemon) serveHAProxyConfig(w http.ResponseWriter, _ *http.Request) {
	r, ok := d.opts.Applier.(model.ConfigReader)
	if !ok {
		http.Error(w, "this applier does not expose its haproxy.cfg: see "+l7lbapi.PathStatus+" for what is served", http.StatusNotFound)
		return
	}
	cfg, err := r.HAProxyConfig()
	if err != nil {
		http.Error(w, "read haproxy.cfg: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cfg)
}

// health says whether the configuration served is current: the last
// successful sync and every source's last full view are within
// StaleAfter. reason says why not.
func (d *Daemon) health() (bool, string) {
	now := time.Now()
	bound := d.opts.StaleAfter
	d.mu.RLock()
	last, waiting, applyErr := d.status.lastSync, d.status.waiting, d.status.lastApplyErr
	d.mu.RUnlock()
	var why []string
	switch {
	case last.IsZero() && waiting != "":
		why = append(why, "no configuration applied yet: waiting for "+waiting)
	case last.IsZero():
		why = append(why, "no configuration applied yet")
	case now.Sub(last) > bound:
		msg := fmt.Sprintf("last successful sync %s ago (bound %s)", now.Sub(last).Round(time.Second), bound)
		if applyErr != "" {
			msg += ": last apply failed: " + applyErr
		}
		why = append(why, msg)
	}
	for _, s := range d.needed() {
		st := s.Status()
		switch {
		case !st.Synced && now.Sub(d.started) > bound:
			why = append(why, fmt.Sprintf("source %s never synced (last error: %s)", st.Name, dash(st.LastError)))
		case st.Synced && now.Sub(st.LastSync) > bound:
			why = append(why, fmt.Sprintf("source %s stale: last full view %s ago (last error: %s)", st.Name, now.Sub(st.LastSync).Round(time.Second), dash(st.LastError)))
		}
	}
	if len(why) == 0 {
		return true, ""
	}
	return false, strings.Join(why, "; ")
}

func dash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Status is GET /v1/status.
func (d *Daemon) Status() l7lbapi.Status {
	ok, reason := d.health()
	d.mu.RLock()
	st, cfg := d.status, d.config
	d.mu.RUnlock()
	s := l7lbapi.Status{Mode: d.mode(), Pool: d.opts.Pool, Started: d.started, LastSync: st.lastSync,
		Healthy: ok, Reason: reason, Applies: st.applies, Reloads: st.reloads, RuntimeChanges: st.runtimeChanges,
		LastApplyError: st.lastApplyErr, FromDisk: st.fromDisk, Sources: []l7lbapi.SourceStatus{},
		Frontends: []l7lbapi.FrontendStatus{}, Backends: []l7lbapi.BackendStatus{}, Problems: st.problems}
	if d.opts.Pool == "" {
		s.Groups = d.opts.MarathonLB.Groups
	}
	if s.Problems == nil {
		s.Problems = []model.Problem{}
	}
	for _, src := range d.sources {
		s.Sources = append(s.Sources, src.Status())
	}
	for _, f := range cfg.Frontends {
		s.Frontends = append(s.Frontends, l7lbapi.FrontendStatus{Name: f.Name, Bind: model.BindString(f.Bind), Mode: string(f.Mode),
			TLS: f.TLS != nil, Routes: len(f.Routes), Default: f.Default})
	}
	for _, b := range cfg.Backends {
		bs := l7lbapi.BackendStatus{Name: b.Name, Source: b.Source, Servers: len(b.Servers)}
		for _, srv := range b.Servers {
			if srv.Draining {
				bs.Draining++
			}
		}
		s.Backends = append(s.Backends, bs)
	}
	return s
}
