package apply

import (
	"sort"
	"time"

	"github.com/dcnet/dcnet/l7lb/render"
	"github.com/prometheus/client_golang/prometheus"
)

// counters are the Applier's metrics, guarded by its mutex.
type counters struct {
	reloads, reloadFailures, checkFailures     uint64
	runtimeCommands, runtimeFailures, restarts uint64
}

var (
	descReloads = prometheus.NewDesc("dcnet_l7lb_reloads_total",
		"HAProxy reloads (and starts), by result.", []string{"result"}, nil)
	descChecks = prometheus.NewDesc("dcnet_l7lb_check_failures_total",
		"Rendered configurations haproxy -c refused (each leaves one part out).", nil, nil)
	descRuntime = prometheus.NewDesc("dcnet_l7lb_runtime_commands_total",
		"Runtime-API commands sent (servers, maps, certificates).", nil, nil)
	descRuntimeFail = prometheus.NewDesc("dcnet_l7lb_runtime_failures_total",
		"Runtime-API batches with a refused command or a failed connection.", nil, nil)
	descRestarts = prometheus.NewDesc("dcnet_l7lb_haproxy_restarts_seen_total",
		"HAProxy restarts by its supervisor that the applier recovered from.", nil, nil)
	descSlots = prometheus.NewDesc("dcnet_l7lb_server_slots",
		"Server slots of all backends, by state (ready, drain, free).", []string{"state"}, nil)
	descProblems = prometheus.NewDesc("dcnet_l7lb_problems",
		"Parts of the configuration left out, by kind.", []string{"kind"}, nil)
	descPending = prometheus.NewDesc("dcnet_l7lb_reload_pending",
		"1 while a structural change waits for its reload.", nil, nil)
)

// Collector returns the Applier's Prometheus metrics, for the daemon to
// register.
func (a *Applier) Collector() prometheus.Collector { return (*collector)(a) }

type collector Applier

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReloads, descChecks, descRuntime, descRuntimeFail, descRestarts, descSlots, descProblems, descPending} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	a := (*Applier)(c)
	a.mu.Lock()
	m := a.metrics
	var used, draining, free int
	for _, w := range a.want {
		u, d, f := w.counts()
		used, draining, free = used+u, draining+d, free+f
	}
	kinds := map[string]int{}
	for _, p := range a.problemsLocked() {
		kinds[p.Kind]++
	}
	pending := 0.0
	if a.pending {
		pending = 1
	}
	a.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descReloads, m.reloads, "ok")
	counter(descReloads, m.reloadFailures, "failed")
	counter(descChecks, m.checkFailures)
	counter(descRuntime, m.runtimeCommands)
	counter(descRuntimeFail, m.runtimeFailures)
	counter(descRestarts, m.restarts)
	gauge(descSlots, float64(used), "ready")
	gauge(descSlots, float64(draining), "drain")
	gauge(descSlots, float64(free), "free")
	for k, n := range kinds {
		gauge(descProblems, float64(n), k)
	}
	gauge(descPending, pending)
}

// Stats are the Applier's counters, for tests and status pages.
type Stats struct {
	Reloads, ReloadFailures, CheckFailures     uint64
	RuntimeCommands, RuntimeFailures, Restarts uint64
	ReloadPending                              bool
	Generation                                 int
}

// Stats returns the counters so far.
func (a *Applier) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.metrics
	s := Stats{Reloads: m.reloads, ReloadFailures: m.reloadFailures, CheckFailures: m.checkFailures,
		RuntimeCommands: m.runtimeCommands, RuntimeFailures: m.runtimeFailures, Restarts: m.restarts,
		ReloadPending: a.pending}
	if a.loaded != nil {
		s.Generation = a.loaded.gen
	}
	return s
}

// SlotStatus is one server slot as the applier wants it.
type SlotStatus struct {
	// Server is HAProxy's server name (s1, s2, ...).
	Server string `json:"server"`
	Key    string `json:"key,omitempty"`
	Addr   string `json:"addr,omitempty"`
	State  string `json:"state"`
	Weight int    `json:"weight,omitempty"`
	// LeavingSince is set while a server that left the config drains.
	LeavingSince *time.Time `json:"leavingSince,omitempty"`
}

// BackendStatus is a backend's slots.
type BackendStatus struct {
	Name  string       `json:"name"`
	Slots []SlotStatus `json:"slots"`
}

// Slots returns every backend's slots: which key sits in which HAProxy
// server, for `show servers state` readers and the status endpoint.
func (a *Applier) Slots() []BackendStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []BackendStatus
	for name, w := range a.want {
		bs := BackendStatus{Name: name}
		for i, s := range w.slots {
			st := SlotStatus{Server: render.SlotName(i), Key: s.Key, State: s.State.String(), Weight: s.Weight}
			if s.Key != "" {
				st.Addr = s.Addr.String()
			}
			if t, ok := w.leaving[i]; ok {
				t := t
				st.LeavingSince = &t
			}
			bs.Slots = append(bs.Slots, st)
		}
		out = append(out, bs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
