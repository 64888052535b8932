package apply

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	r := newRig(t, nil)
	r.apply(webConfig(srv("a", "9.0.0.2:80"), srv("b", "9.0.0.3:80")))
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r.a.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetValue() + "}"
			}
			switch {
			case m.Counter != nil:
				got[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				got[key] = m.Gauge.GetValue()
			}
		}
	}
	for k, v := range map[string]float64{
		"dcnet_l7lb_reloads_total{ok}":      1,
		"dcnet_l7lb_reloads_total{failed}":  0,
		"dcnet_l7lb_server_slots{ready}":    2,
		"dcnet_l7lb_server_slots{free}":     6,
		"dcnet_l7lb_server_slots{drain}":    0,
		"dcnet_l7lb_reload_pending":         0,
		"dcnet_l7lb_runtime_commands_total": 0,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
