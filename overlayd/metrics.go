package overlayd

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg          *prometheus.Registry
	allocations  *prometheus.CounterVec
	allocLatency prometheus.Histogram
	released     prometheus.Counter
	apiLatency   *prometheus.HistogramVec
	reconcileDur prometheus.Histogram
	repairs      prometheus.Counter
	reconcileErr prometheus.Counter
}

func newMetrics(d *Daemon) *metrics {
	const ns = "dcnet_overlayd_"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		allocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "allocations_total",
			Help: "Address allocation requests by network and result."}, []string{"network", "result"}),
		allocLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "allocation_duration_seconds",
			Help: "Time to allocate and durably record an attachment.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		released: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "releases_total",
			Help: "Attachments released (DEL or GC)."}),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "api_request_duration_seconds",
			Help: "Local API request latency by path.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"path"}),
		reconcileDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "reconcile_duration_seconds",
			Help: "Duration of one datapath reconcile.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "reconcile_changes_total",
			Help: "Kernel objects created or repaired by reconciles."}),
		reconcileErr: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "reconcile_errors_total",
			Help: "Reconciles that failed."}),
	}
	m.reg.MustRegister(m.allocations, m.allocLatency, m.released, m.apiLatency, m.reconcileDur, m.repairs, m.reconcileErr,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "attachments", Help: "Attachments held on this node."},
			func() float64 { n, _ := d.ipam.Count(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "publish_pending", Help: "Endpoint records not yet written to the store."},
			func() float64 {
				if d.publisher == nil {
					return 0
				}
				return float64(d.publisher.Pending())
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "store_ok", Help: "1 when the last store operation succeeded."},
			func() float64 {
				d.mu.RLock()
				defer d.mu.RUnlock()
				if d.storeErr != nil {
					return 0
				}
				return 1
			}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

func (m *metrics) allocated(network string, err error, dur time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.allocations.WithLabelValues(network, result).Inc()
	m.allocLatency.Observe(dur.Seconds())
}

func (m *metrics) reconciled(changes int, err error, dur time.Duration) {
	m.reconcileDur.Observe(dur.Seconds())
	m.repairs.Add(float64(changes))
	if err != nil {
		m.reconcileErr.Inc()
	}
}

// instrument records API latency by path (unknown paths share one label).
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		path := r.URL.Path
		if !strings.HasPrefix(path, "/v1/") || strings.Count(path, "/") > 2 {
			path = "other"
		}
		m.apiLatency.WithLabelValues(path).Observe(time.Since(start).Seconds())
	})
}
