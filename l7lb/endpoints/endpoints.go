// Package endpoints is dcnet-l7lb's source of dcnet's own records in
// etcd, read as dcnet-l4lb reads them: the endpoint records of CNI and
// Docker containers (cluster.EndpointsPrefix, with their labels and port
// mappings) and the VIP backends every node's dcnet-l4lb publishes from
// its Mesos agent (cluster.MesosBackendsPrefix). It is a thin adapter:
// cluster.Mirror watches, source.Decoded decodes once per revision and
// re-reads on a timer; pools select endpoints by label and VIPs by name.
package endpoints

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/source"
)

// Source mirrors endpoint and Mesos backend records.
type Source struct {
	resync  time.Duration
	tracker *source.Tracker
	eps     *source.Decoded[record]
	mesos   *source.Decoded[[]vip.Binding]
	// OnChange is called after every change, from Run's goroutines.
	OnChange func()
}

var _ source.Source = (*Source)(nil)

// record is one endpoint record with its VIP bindings.
type record struct {
	ep   cluster.Endpoint
	vips []vip.Binding
}

// New returns a source reading s; resync is the period of full re-reads
// (0: source.DefaultEtcdResync).
func New(s *cluster.Store, resync time.Duration, log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("source", "endpoints")
	src := &Source{resync: resync, tracker: source.NewTracker("endpoints")}
	src.eps = source.NewDecoded(s, cluster.EndpointsPrefix, decodeEndpoint, log)
	src.mesos = source.NewDecoded(s, cluster.MesosBackendsPrefix, decodeMesos, log)
	src.eps.OnChange, src.mesos.OnChange = src.changed, src.changed
	src.eps.OnFailure = func(err error) { src.tracker.Failed("etcd_endpoints", err) }
	src.mesos.OnFailure = func(err error) { src.tracker.Failed("etcd_mesos_backends", err) }
	src.tracker.Detail("etcd " + s.String())
	return src
}

func decodeEndpoint(key string, value []byte) (record, bool, error) {
	var ep cluster.Endpoint
	if err := json.Unmarshal(value, &ep); err != nil {
		return record{}, false, err
	}
	bs, _ := vip.FromEndpoint(ep) // malformed VIP labels are dcnet-l4lb's to report
	return record{ep: ep, vips: bs}, true, nil
}

func decodeMesos(key string, value []byte) ([]vip.Binding, bool, error) {
	node, _, ok := strings.Cut(strings.TrimPrefix(key, cluster.MesosBackendsPrefix), "/")
	if !ok {
		return nil, false, fmt.Errorf("want %s<node>/<task>", cluster.MesosBackendsPrefix)
	}
	var r cluster.MesosBackends
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, false, err
	}
	out := make([]vip.Binding, 0, len(r.Backends))
	for _, b := range r.Backends {
		out = append(out, vip.Binding{
			VIP: vip.VIP{Name: b.Name, Framework: b.Framework, IP: b.VIP, Port: b.VIPPort, Protocol: b.Protocol},
			Backend: vip.Backend{IP: b.IP, Port: b.Port, Node: node, NodeIP: b.NodeIP, Task: r.Task,
				Healthy: b.Healthy, Draining: b.Draining},
		})
	}
	return out, true, nil
}

func (s *Source) changed() {
	if s.eps.Synced() && s.mesos.Synced() {
		last := s.eps.LastReset()
		if m := s.mesos.LastReset(); m.Before(last) {
			last = m
		}
		s.tracker.SyncedAt(last)
	}
	if s.OnChange != nil {
		s.OnChange()
	}
}

// Name implements source.Source.
func (s *Source) Name() string { return "endpoints" }

// Run mirrors both prefixes until ctx ends.
func (s *Source) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.eps.Run(ctx, s.resync) }()
	go func() { defer wg.Done(); s.mesos.Run(ctx, s.resync) }()
	wg.Wait()
}

// Status implements source.Source.
func (s *Source) Status() l7lbapi.SourceStatus { return s.tracker.Status() }

// Errors implements source.Source.
func (s *Source) Errors() map[string]uint64 { return s.tracker.Errors() }

// Synced reports whether both prefixes were read once.
func (s *Source) Synced() bool { return s.eps.Synced() && s.mesos.Synced() }

// Endpoints returns every endpoint record in key order.
func (s *Source) Endpoints() []cluster.Endpoint {
	recs := s.eps.Items()
	out := make([]cluster.Endpoint, len(recs))
	for i, r := range recs {
		out[i] = r.ep
	}
	return out
}

// VIPs returns every VIP backend: the endpoint records' VIP labels, then
// the Mesos agents' records.
func (s *Source) VIPs() []vip.Binding {
	var out []vip.Binding
	for _, r := range s.eps.Items() {
		out = append(out, r.vips...)
	}
	for _, bs := range s.mesos.Items() {
		out = append(out, bs...)
	}
	return out
}
