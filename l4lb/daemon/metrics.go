package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Stages of dcnet_l4lb_errors_total.
const (
	stageAllocate    = "allocate"
	stageKernel      = "kernel"
	stageConntrack   = "conntrack"
	stagePublishName = "publish_name"
	stageMesosPoll   = "mesos_poll"
	stageRelease     = "release"
	stageRoutes      = "routes"
)

// Backend states of dcnet_l4lb_backends.
const (
	backendActive   = "active"   // programmed with slots
	backendDraining = "draining" // programmed without slots: unhealthy or draining
	backendDown     = "down"     // listed, but its node is not alive
)

type metrics struct {
	reg      *prometheus.Registry
	syncDur  prometheus.Histogram
	repairs  prometheus.Counter
	errors   *prometheus.CounterVec
	vips     *prometheus.GaugeVec
	backends *prometheus.GaugeVec
	polls    *prometheus.CounterVec
	released prometheus.Counter
	refused  prometheus.Gauge
	states   *prometheus.GaugeVec
}

func newMetrics(d *Daemon) *metrics {
	const ns = "dcnet_l4lb_"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		syncDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "sync_duration_seconds",
			Help: "Duration of one nftables sync (apply, and reconcile on the timer).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "reconcile_repairs_total",
			Help: "Kernel changes made by the periodic reconcile: hand damage repaired (a rebuilt table counts at least 1)."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "errors_total",
			Help: "Failures by stage: allocate, kernel, conntrack, publish_name, mesos_poll, release, routes."}, []string{"stage"}),
		vips: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "vips",
			Help: "VIPs (address, protocol, port) programmed, by family."}, []string{"family"}),
		backends: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "backends",
			Help: "Backends of the programmed VIPs (one per VIP and backend), by state: active, draining (no new connections), down (node not alive)."}, []string{"state"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "mesos_polls_total",
			Help: "GET_STATE polls of the local Mesos agent by result."}, []string{"result"}),
		released: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "vip_releases_total",
			Help: "Named VIPs whose addresses and name this node released after the grace period."}),
		refused: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "vips_refused",
			Help: "IP VIPs (address, protocol, port) not programmed because a named VIP holds their address."}),
		states: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "vips_by_state",
			Help: "Programmed VIPs by state: active, draining (every backend drains), rejecting (last backend gone, refusing until withdrawn), held (fail open)."}, []string{"state"}),
	}
	for _, s := range []string{stageAllocate, stageKernel, stageConntrack, stagePublishName, stageMesosPoll, stageRelease, stageRoutes} {
		m.errors.WithLabelValues(s)
	}
	for _, s := range []string{backendActive, backendDraining, backendDown} {
		m.backends.WithLabelValues(s)
	}
	for _, s := range vipStates {
		m.states.WithLabelValues(s)
	}
	m.reg.MustRegister(m.syncDur, m.repairs, m.errors, m.vips, m.backends, m.polls, m.released, m.refused, m.states,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: ns + "syncs_total", Help: "Successful syncs."},
			func() float64 {
				d.mu.RLock()
				defer d.mu.RUnlock()
				return float64(d.syncs)
			}),
	)
	return m
}

func (m *metrics) failed(stage string) { m.errors.WithLabelValues(stage).Inc() }

func (m *metrics) polled(err error) {
	if err != nil {
		m.polls.WithLabelValues("error").Inc()
		m.failed(stageMesosPoll)
		return
	}
	m.polls.WithLabelValues("ok").Inc()
}

// programmed sets the gauges from the services of a successful sync and
// the number of refused IP VIPs.
func (m *metrics) programmed(services []Service, refused int) {
	vips := map[string]int{}
	states := map[string]int{}
	byState := map[string]int{}
	for _, s := range services {
		vips[familyOf(s.Addr).String()]++
		byState[serviceState(s)]++
		for _, b := range s.Backends {
			if b.Healthy && !b.Draining {
				states[backendActive]++
			} else {
				states[backendDraining]++
			}
		}
		// Backends is All or a subset of it: the rest are down.
		states[backendDown] += len(s.All) - len(s.Backends)
	}
	for _, f := range []string{"ip", "ip6"} {
		m.vips.WithLabelValues(f).Set(float64(vips[f]))
	}
	for _, s := range []string{backendActive, backendDraining, backendDown} {
		m.backends.WithLabelValues(s).Set(float64(states[s]))
	}
	for _, s := range vipStates {
		m.states.WithLabelValues(s).Set(float64(byState[s]))
	}
	m.refused.Set(float64(refused))
}
