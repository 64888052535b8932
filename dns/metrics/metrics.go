// Package metrics is dcnet-dns's Prometheus instrumentation: queries by
// zone and rcode (a dns.Handler wrapper that sees each written response),
// the latency of forwarded questions, and hits and misses of the cache of
// forwarded answers.
//
// Cache hits are told from misses without touching the cache: Lookups wraps
// the cached forwarder and puts a mark in the context; Upstream, wrapped
// inside the cache, sets it. A lookup whose mark is still clear after the
// call was answered from the cache.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ForwardedZone is the zone label of queries outside every local zone.
const ForwardedZone = "forwarded"

// Forwarder is the forwarding interface of server.Forwarder and cache.Forwarder.
type Forwarder interface {
	Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error)
}

// Metrics holds dcnet-dns's collectors in their own registry.
type Metrics struct {
	reg     *prometheus.Registry
	zones   []string
	queries *prometheus.CounterVec
	forward *prometheus.HistogramVec
	lookups *prometheus.CounterVec
	refused prometheus.Counter

	// fastQueries and fastHit are the counters of FastAnswered, resolved
	// once: queries of ForwardedZone by rcode (0-15), and cache hits.
	fastQueries [16]prometheus.Counter
	fastHit     prometheus.Counter
	// localOK are the NOERROR query counters of the local zones, for
	// LocalAnswered.
	localOK map[string]prometheus.Counter
}

// New returns metrics labelling queries by the longest of zones (fully
// qualified apexes) containing the name, else ForwardedZone.
func New(zones ...string) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		zones: zones,
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dcnet_dns_queries_total", Help: "DNS queries answered, by zone and rcode.",
		}, []string{"zone", "rcode"}),
		forward: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dcnet_dns_forward_duration_seconds", Help: "Latency of questions sent upstream (cache misses), by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"result"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dcnet_dns_cache_lookups_total", Help: "Lookups in the cache of forwarded answers, by result (hit, miss).",
		}, []string{"result"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dcnet_dns_recursion_refused_total",
			Help: "Questions for names outside the local zones refused because the client may not recurse on the address it asked (not a cluster DNS address, client outside the recursion networks).",
		}),
	}
	m.reg.MustRegister(m.queries, m.forward, m.lookups, m.refused)
	for rc := range m.fastQueries {
		m.fastQueries[rc] = m.queries.WithLabelValues(ForwardedZone, rcodeLabel(rc))
	}
	m.fastHit = m.lookups.WithLabelValues("hit")
	m.localOK = make(map[string]prometheus.Counter, len(zones))
	for _, z := range zones {
		m.localOK[z] = m.queries.WithLabelValues(z, rcodeLabel(dns.RcodeSuccess))
	}
	return m
}

// LocalAnswered counts a local zone's answer sent by the UDP batch
// server from its kept packed answers (server.FastPath.SetLocalAnswered),
// which bypasses Handler: a NOERROR query of zone apex.
func (m *Metrics) LocalAnswered(apex string) {
	if c, ok := m.localOK[apex]; ok {
		c.Inc()
		return
	}
	m.queries.WithLabelValues(m.Zone(apex), rcodeLabel(dns.RcodeSuccess)).Inc()
}

// FastAnswered counts a forwarded question answered from the cache by the
// UDP fast path (server.FastPath), which bypasses Handler and Lookups: a
// query of ForwardedZone with rcode (0-15) and a cache hit.
func (m *Metrics) FastAnswered(rcode int) {
	m.fastQueries[rcode&0x0f].Inc()
	m.fastHit.Inc()
}

// RecursionRefused counts a question refused by a server.RecursionGate.
func (m *Metrics) RecursionRefused() { m.refused.Inc() }

// rcodeLabel is the rcode label of rcode.
func rcodeLabel(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "OTHER"
}

// HTTPHandler serves the metrics in the Prometheus text format.
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Zone is the zone label of name.
func (m *Metrics) Zone(name string) string {
	best := ""
	for _, z := range m.zones {
		if dns.IsSubDomain(z, name) && len(z) > len(best) {
			best = z
		}
	}
	if best == "" {
		return ForwardedZone
	}
	return best
}

// Handler wraps h, counting every response it writes.
func (m *Metrics) Handler(h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		h.ServeDNS(countingWriter{ResponseWriter: w, m: m}, req)
	})
}

type countingWriter struct {
	dns.ResponseWriter
	m *Metrics
}

func (w countingWriter) WriteMsg(resp *dns.Msg) error {
	zone := ForwardedZone
	if len(resp.Question) == 1 {
		zone = w.m.Zone(dns.CanonicalName(resp.Question[0].Name))
	}
	w.m.queries.WithLabelValues(zone, rcodeLabel(resp.Rcode)).Inc()
	return w.ResponseWriter.WriteMsg(resp)
}

type missKey struct{}

// Lookups wraps a cached forwarder, counting hits and misses; the
// forwarder inside the cache must be wrapped by Upstream.
func (m *Metrics) Lookups(f Forwarder) Forwarder {
	return forwarderFunc(func(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
		miss := new(bool)
		resp, err := f.Forward(context.WithValue(ctx, missKey{}, miss), req)
		result := "hit"
		if *miss {
			result = "miss"
		}
		m.lookups.WithLabelValues(result).Inc()
		return resp, err
	})
}

// Upstream wraps the forwarder behind the cache, timing each question and
// marking the lookup a miss.
func (m *Metrics) Upstream(f Forwarder) Forwarder {
	return forwarderFunc(func(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
		if miss, ok := ctx.Value(missKey{}).(*bool); ok {
			*miss = true
		}
		start := time.Now()
		resp, err := f.Forward(ctx, req)
		result := "ok"
		if err != nil {
			result = "error"
		}
		m.forward.WithLabelValues(result).Observe(time.Since(start).Seconds())
		return resp, err
	})
}

type forwarderFunc func(ctx context.Context, req *dns.Msg) (*dns.Msg, error)

func (f forwarderFunc) Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	return f(ctx, req)
}
