package daemon

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
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
	for _, kv := range d.vips.List(strings.TrimPrefix(VIPNamesPrefix, vipAndNamesPrefix)) {
		stored[strings.TrimPrefix(kv.Key, VIPNamesPrefix)] = string(kv.Value)
	}
	for name, as := range addrs {
		slices.Sort(as)
		rec := NameRecord{Name: name, Addrs: as}
		b, _ := json.Marshal(rec)
		if stored[name] == string(b) {
			continue
		}
		if err := publishName(ctx, d.opts.Store.Client, rec); err != nil {
			d.metrics.failed(stagePublishName)
			d.log.Warn("publish vip name", "vip", name, "err", err)
			continue
		}
		d.log.Info("vip name published", "vip", name, "addrs", strings.Join(as, ","))
	}
}
