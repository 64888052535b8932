package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dcnet/dcnet/l7lb/model"
	"github.com/dcnet/dcnet/l7lb/source"
)

const ns = "dcnet_l7lb_"

type metrics struct {
	reg            *prometheus.Registry
	syncs          *prometheus.CounterVec
	syncDur        prometheus.Histogram
	buildDur       prometheus.Histogram
	applyErrors    prometheus.Counter
	applies        *prometheus.CounterVec
	runtimeChanges prometheus.Counter
	diskErrors     prometheus.Counter
	problems       *prometheus.GaugeVec
	servers        *prometheus.GaugeVec
	frontends      prometheus.Gauge
	backends       prometheus.Gauge
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "syncs_total",
			Help: "Builds by result: ok (applied), error (the applier failed), waiting (a source has not synced yet)."}, []string{"result"}),
		syncDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "sync_duration_seconds",
			Help: "Duration of one build and apply.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20)}),
		buildDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "build_duration_seconds",
			Help: "Duration of one build of the configuration from the sources.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18)}),
		applyErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "apply_errors_total",
			Help: "Applies that failed (HAProxy kept the previous configuration)."}),
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "applies_total",
			Help: "Successful applies by what the applier did: reload (a structural change reloaded HAProxy), runtime (runtime-API changes only), none (nothing changed)."}, []string{"result"}),
		runtimeChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "apply_runtime_changes_total",
			Help: "Runtime-API commands the applies reported (servers, weights, drain, maps, certificates)."}),
		diskErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "state_disk_errors_total",
			Help: "Failures to write or read the last good configuration on disk."}),
		problems: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "config_problems",
			Help: "Inputs left out of the served configuration by the build and the applier, by kind (app, frontend, backend, cert, pool)."}, []string{"kind"}),
		servers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "servers",
			Help: "Servers of the served configuration by state: active, draining."}, []string{"state"}),
		frontends: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "frontends", Help: "Frontends served."}),
		backends:  prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "backends", Help: "Backends served."}),
	}
	for _, r := range []string{"ok", "error", "waiting"} {
		m.syncs.WithLabelValues(r)
	}
	for _, r := range []string{"reload", "runtime", "none"} {
		m.applies.WithLabelValues(r)
	}
	for _, k := range []string{"app", "frontend", "backend", "cert", "pool"} {
		m.problems.WithLabelValues(k)
	}
	if c, ok := d.opts.Applier.(interface{ Collector() prometheus.Collector }); ok {
		// The applier's own metrics (reloads by result, slots, runtime
		// commands, HAProxy restarts) on the same /metrics.
		m.reg.MustRegister(c.Collector())
	}
	m.reg.MustRegister(m.syncs, m.syncDur, m.buildDur, m.applyErrors, m.applies, m.runtimeChanges, m.diskErrors,
		m.problems, m.servers, m.frontends, m.backends, &sourceCollector{d: d},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "last_sync_age_seconds",
			Help: "Seconds since a configuration built from synced sources was last applied (-1: never)."},
			func() float64 {
				d.mu.RLock()
				defer d.mu.RUnlock()
				if d.status.lastSync.IsZero() {
					return -1
				}
				return time.Since(d.status.lastSync).Seconds()
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "healthy",
			Help: "1 while the last successful sync and every source are fresher than the staleness bound, else 0."},
			func() float64 {
				if ok, _ := d.health(); ok {
					return 1
				}
				return 0
			}),
	)
	return m
}

// applied updates the gauges of the served configuration.
func (m *metrics) applied(cfg model.Config, res model.Result, problems []model.Problem) {
	switch {
	case res.Reloaded:
		m.applies.WithLabelValues("reload").Inc()
	case res.RuntimeChanges > 0:
		m.applies.WithLabelValues("runtime").Inc()
	default:
		m.applies.WithLabelValues("none").Inc()
	}
	m.runtimeChanges.Add(float64(res.RuntimeChanges))
	m.problems.Reset()
	for _, k := range []string{"app", "frontend", "backend", "cert", "pool"} {
		m.problems.WithLabelValues(k)
	}
	for _, p := range problems {
		m.problems.WithLabelValues(p.Kind).Inc()
	}
	active, draining := 0, 0
	for _, b := range cfg.Backends {
		for _, s := range b.Servers {
			if s.Draining {
				draining++
			} else {
				active++
			}
		}
	}
	m.servers.WithLabelValues("active").Set(float64(active))
	m.servers.WithLabelValues("draining").Set(float64(draining))
	m.frontends.Set(float64(len(cfg.Frontends)))
	m.backends.Set(float64(len(cfg.Backends)))
}

// sourceCollector exports the sources' error counts and freshness.
type sourceCollector struct{ d *Daemon }

var (
	sourceErrorsDesc = prometheus.NewDesc(ns+"source_errors_total",
		"Failures of a source by kind (list, app, stream_idle, stream_garbage, stream_connect, etcd_*, invalid_document, ...).",
		[]string{"source", "kind"}, nil)
	sourceAgeDesc = prometheus.NewDesc(ns+"source_last_sync_age_seconds",
		"Seconds since a source last confirmed its full view (-1: never).", []string{"source"}, nil)
)

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sourceErrorsDesc
	ch <- sourceAgeDesc
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.d.sources {
		errs := s.Errors()
		for _, k := range source.Kinds(errs) {
			ch <- prometheus.MustNewConstMetric(sourceErrorsDesc, prometheus.CounterValue, float64(errs[k]), s.Name(), k)
		}
		age := -1.0
		if st := s.Status(); st.Synced {
			age = time.Since(st.LastSync).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(sourceAgeDesc, prometheus.GaugeValue, age, s.Name())
	}
}
