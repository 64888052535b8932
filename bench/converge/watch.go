package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	store "github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/benchkit"
)

// vipNamesPrefix is where every dcnet-l4lb publishes a named VIP's name
// record once it has programmed the VIP.
const vipNamesPrefix = store.VIPNamesPrefix

// taskNamesPrefix is where Mesos-DNS mode publishes the task names, one key
// per name holding a JSON list of its addresses (docs/dns.md).
const taskNamesPrefix = store.TaskNamesPrefix

// putAt returns when the bench's watch w delivered the first PUT at or
// after since that match accepts, waiting up to timeout (the bench's watch
// and the daemons' watches are independent streams); zero when none came.
func putAt(ctx context.Context, w *benchkit.Watcher, since time.Time, timeout time.Duration, match func(benchkit.Event) bool) time.Time {
	ev, err := w.Await(ctx, timeout, func(ev benchkit.Event) bool { return ev.Put && !ev.At.Before(since) && match(ev) })
	if err != nil {
		return time.Time{}
	}
	return ev.At
}

// endpointWith matches an endpoint record that holds ip.
func endpointWith(ip string) func(benchkit.Event) bool {
	return func(ev benchkit.Event) bool {
		v := string(ev.Value)
		return strings.HasPrefix(ev.Key, store.EndpointsPrefix) && (strings.Contains(v, `"`+ip+`"`) || strings.Contains(v, `"`+ip+`/`))
	}
}

// vipNameRecord matches the name record of the VIP whose DNS name is fqdn
// (without the final dot).
func vipNameRecord(fqdn string) func(benchkit.Event) bool {
	return func(ev benchkit.Event) bool {
		if !strings.HasPrefix(ev.Key, vipNamesPrefix) {
			return false
		}
		var rec struct {
			Name  string   `json:"name"`
			Addrs []string `json:"addrs"`
		}
		return json.Unmarshal(ev.Value, &rec) == nil && strings.TrimSuffix(rec.Name, ".") == fqdn && len(rec.Addrs) > 0
	}
}

// taskNameRecord matches the task name key of fqdn (without the final
// dot) when its address list holds ip.
func taskNameRecord(fqdn, ip string) func(benchkit.Event) bool {
	return func(ev benchkit.Event) bool {
		name, ok := strings.CutPrefix(ev.Key, taskNamesPrefix)
		if !ok || strings.TrimSuffix(name, ".") != fqdn {
			return false
		}
		var addrs []string
		return json.Unmarshal(ev.Value, &addrs) == nil && slices.Contains(addrs, ip)
	}
}
