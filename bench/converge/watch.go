package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	store "github.com/dcnet/dcnet/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// vipNamesPrefix is where every dcnet-l4lb publishes a named VIP's name
// record once it has programmed the VIP.
const vipNamesPrefix = store.VIPNamesPrefix

// taskNamesPrefix is where Mesos-DNS mode publishes the task names, one key
// per name holding a JSON list of its addresses (docs/dns.md).
const taskNamesPrefix = store.TaskNamesPrefix

// storeEvent is one PUT seen by the bench's watch on the cluster store.
type storeEvent struct {
	At         time.Time
	Key, Value string
}

// storeWatch records every PUT under store.Prefix with the moment the
// bench's watch delivered it: the breakdown of each measured path into
// the part before and after the store.
type storeWatch struct {
	mu     sync.Mutex
	events []storeEvent
	err    error
}

// watchStore watches store.Prefix through client until ctx ends.
func watchStore(ctx context.Context, client *clientv3.Client) *storeWatch {
	w := &storeWatch{}
	wch := client.Watch(clientv3.WithRequireLeader(ctx), store.Prefix, clientv3.WithPrefix())
	go func() {
		for resp := range wch {
			now := time.Now()
			w.mu.Lock()
			if err := resp.Err(); err != nil && w.err == nil {
				w.err = err
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut {
					w.events = append(w.events, storeEvent{At: now, Key: string(ev.Kv.Key), Value: string(ev.Kv.Value)})
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// first returns the moment of the first PUT at or after since that match
// accepts.
func (w *storeWatch) first(since time.Time, match func(storeEvent) bool) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range w.events {
		if !ev.At.Before(since) && match(ev) {
			return ev.At, true
		}
	}
	return time.Time{}, false
}

// await is first, waiting up to timeout for the event to arrive (the
// bench's watch and the daemons' watches are independent streams).
func (w *storeWatch) await(ctx context.Context, since time.Time, timeout time.Duration, match func(storeEvent) bool) (time.Time, bool) {
	end := time.Now().Add(timeout)
	for {
		if at, ok := w.first(since, match); ok || time.Now().After(end) || ctx.Err() != nil {
			return at, ok
		}
		time.Sleep(pollInterval)
	}
}

// Err is the first error the watch reported.
func (w *storeWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return fmt.Errorf("store watch: %w", w.err)
	}
	return nil
}

// endpointWith matches an endpoint record that holds ip.
func endpointWith(ip string) func(storeEvent) bool {
	return func(ev storeEvent) bool {
		return strings.HasPrefix(ev.Key, store.EndpointsPrefix) &&
			(strings.Contains(ev.Value, `"`+ip+`"`) || strings.Contains(ev.Value, `"`+ip+`/`))
	}
}

// vipNameRecord matches the name record of the VIP whose DNS name is fqdn
// (without the final dot).
func vipNameRecord(fqdn string) func(storeEvent) bool {
	return func(ev storeEvent) bool {
		if !strings.HasPrefix(ev.Key, vipNamesPrefix) {
			return false
		}
		var rec struct {
			Name  string   `json:"name"`
			Addrs []string `json:"addrs"`
		}
		return json.Unmarshal([]byte(ev.Value), &rec) == nil && strings.TrimSuffix(rec.Name, ".") == fqdn && len(rec.Addrs) > 0
	}
}

// taskNameRecord matches the task name key of fqdn (without the final
// dot) when its address list holds ip.
func taskNameRecord(fqdn, ip string) func(storeEvent) bool {
	return func(ev storeEvent) bool {
		name, ok := strings.CutPrefix(ev.Key, taskNamesPrefix)
		if !ok || strings.TrimSuffix(name, ".") != fqdn {
			return false
		}
		var addrs []string
		return json.Unmarshal([]byte(ev.Value), &addrs) == nil && slices.Contains(addrs, ip)
	}
}
