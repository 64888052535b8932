package daemon

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/cluster"
)

// publishNames writes the name record of every named VIP just programmed
// whose stored record differs (read from the vips cache, so a record that
// someone deleted is written again while the VIP has backends).
func (d *Daemon) publishNames(ctx context.Context, services []Service) {
	addrs := map[string][]string{}
	for _, s := range services {
		if s.Key.IsNamed() && !slices.Contains(addrs[s.Key.Name], s.Addr.String()) {
			addrs[s.Key.Name] = append(addrs[s.Key.Name], s.Addr.String())
		}
	}
	stored := map[string]string{}
	for _, kv := range d.vips.List(strings.TrimPrefix(cluster.VIPNamesPrefix, cluster.VIPAndNamesPrefix)) {
		stored[strings.TrimPrefix(kv.Key, cluster.VIPNamesPrefix)] = string(kv.Value)
	}
	var recs []cluster.VIPName
	for name, as := range addrs {
		slices.Sort(as)
		rec := cluster.VIPName{Name: name, Addrs: as}
		b, _ := json.Marshal(rec)
		if stored[name] != string(b) {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return
	}
	slices.SortFunc(recs, func(a, b cluster.VIPName) int { return strings.Compare(a.Name, b.Name) })
	errs := putNames(ctx, d.opts.Store.Client, recs)
	for _, rec := range recs {
		if err := errs[rec.Name]; err != nil {
			d.metrics.failed(stagePublishName)
			d.log.Warn("publish vip name", "vip", rec.Name, "err", err)
			continue
		}
		d.log.Info("vip name published", "vip", rec.Name, "addrs", strings.Join(rec.Addrs, ","))
	}
}
