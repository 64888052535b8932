package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vip"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// releaser tracks, per named VIP, since when this node has seen it without
// a backend, and says which ones are due for release.
type releaser struct {
	grace time.Duration
	now   func() time.Time
	since map[string]time.Time
}

func newReleaser(grace time.Duration) *releaser {
	return &releaser{grace: grace, now: time.Now, since: map[string]time.Time{}}
}

// due returns the names of known (allocated or with a name record) that
// are not in inUse and have not been for the grace period, sorted.
func (r *releaser) due(known, inUse map[string]bool) []string {
	now := r.now()
	for name := range r.since {
		if !known[name] || inUse[name] {
			delete(r.since, name)
		}
	}
	var out []string
	for name := range known {
		if inUse[name] {
			continue
		}
		first, ok := r.since[name]
		if !ok {
			r.since[name] = now
			continue
		}
		if now.Sub(first) >= r.grace {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// forget restarts the grace period of name.
func (r *releaser) forget(name string) { delete(r.since, name) }

// release frees the named VIPs that have had no backend for the grace
// period (see releaseName).
func (d *Daemon) release(ctx context.Context, services []Service, missing []AllocKey) {
	inUse := map[string]bool{}
	for _, s := range services {
		if s.Key.IsNamed() && !s.Rejecting {
			inUse[s.Key.Name] = true
		}
	}
	for _, k := range missing {
		inUse[k.Name] = true
	}
	known := map[string]bool{}
	for k := range d.allocated() {
		known[k.Name] = true
	}
	for _, kv := range d.vips.List(strings.TrimPrefix(cluster.VIPNamesPrefix, cluster.VIPAndNamesPrefix)) {
		known[strings.TrimPrefix(kv.Key, cluster.VIPNamesPrefix)] = true
	}
	due := d.releaser.due(known, inUse)
	if len(due) == 0 {
		return
	}
	// One read of the records for every due name (not one per name).
	rec, readErr := readRecords(ctx, d.opts.Store.Client)
	for _, name := range due {
		released, err := false, readErr
		if err == nil {
			released, err = rec.release(ctx, d.opts.Store.Client, name)
		}
		d.releaser.forget(name)
		switch {
		case err != nil:
			d.metrics.failed(stageRelease)
			d.log.Warn("release vip, retrying after the grace period", "vip", name, "err", err)
		case released:
			d.metrics.released.Inc()
			d.log.Info("vip released: no backend for the grace period", "vip", name, "grace", d.opts.ReleaseGrace)
		default:
			d.log.Info("vip not released: in use or changed meanwhile", "vip", name)
		}
	}
}

func (d *Daemon) allocated() map[AllocKey]netip.Addr {
	a, _ := parseAllocs(d.vips.List(""))
	return a
}

// releaseName deletes name's address allocations (both families) and its
// name record in one transaction, if no endpoint or Mesos record declares
// a backend for it (see records.release).
func releaseName(ctx context.Context, cli *clientv3.Client, name string) (bool, error) {
	rec, err := readRecords(ctx, cli)
	if err != nil {
		return false, err
	}
	return rec.release(ctx, cli, name)
}

// records are the endpoint and Mesos records read at one revision, and the
// named VIPs they declare.
type records struct {
	rev   int64
	names map[string]bool
}

// readRecords reads every endpoint and Mesos record at one revision and
// decodes the named VIPs they declare, once for any number of releases.
func readRecords(ctx context.Context, cli *clientv3.Client) (*records, error) {
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	read, err := cli.Txn(cctx).Then(clientv3.OpGet(cluster.EndpointsPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(cluster.MesosBackendsPrefix, clientv3.WithPrefix())).Commit()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("release vips: read the records: %w", err)
	}
	rs := read.Responses
	return &records{rev: read.Header.Revision, names: namesInUse(rs[0].GetResponseRange().Kvs, rs[1].GetResponseRange().Kvs)}, nil
}

// release deletes name's keys unless r declares it. The transaction
// succeeds only if no record under either prefix was written after r's
// revision and the allocation and name keys are as read: a node whose view
// lags cannot release a name that just got a backend, and two nodes
// releasing at once delete once (the second compares fail).
func (r *records) release(ctx context.Context, cli *clientv3.Client, name string) (bool, error) {
	if r.names[name] {
		return false, nil
	}
	keys := []string{cluster.VIPNamePrefix + AllocKey{dataplane.IPv4, name}.String(),
		cluster.VIPNamePrefix + AllocKey{dataplane.IPv6, name}.String(), cluster.VIPNamesPrefix + name}
	ops := make([]clientv3.Op, 0, len(keys))
	for _, k := range keys {
		ops = append(ops, clientv3.OpGet(k))
	}
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	read, err := cli.Txn(cctx).Then(ops...).Commit()
	cancel()
	if err != nil {
		return false, fmt.Errorf("release vip %s: read: %w", name, err)
	}
	rs := read.Responses
	cmps := []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(cluster.EndpointsPrefix), "<", r.rev+1).WithPrefix(),
		clientv3.Compare(clientv3.ModRevision(cluster.MesosBackendsPrefix), "<", r.rev+1).WithPrefix(),
	}
	var dels []clientv3.Op
	for i, k := range keys {
		var modRev int64
		if kvs := rs[i].GetResponseRange().Kvs; len(kvs) > 0 {
			modRev = kvs[0].ModRevision
			dels = append(dels, clientv3.OpDelete(k))
			if i < 2 {
				dels = append(dels, clientv3.OpDelete(cluster.VIPAddrPrefix+string(kvs[0].Value)))
			}
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", modRev))
	}
	if len(dels) == 0 {
		return false, nil
	}
	cctx, cancel = context.WithTimeout(ctx, storeTimeout)
	resp, err := cli.Txn(cctx).If(cmps...).Then(dels...).Commit()
	cancel()
	if err != nil {
		return false, fmt.Errorf("release vip %s: %w", name, err)
	}
	return resp.Succeeded, nil
}

// namesInUse returns the named VIPs (DNS names) that an endpoint or Mesos
// record declares a backend of.
func namesInUse(endpoints, mesosRecs []*mvccpb.KeyValue) map[string]bool {
	out := map[string]bool{}
	for _, kv := range endpoints {
		var ep cluster.Endpoint
		if json.Unmarshal(kv.Value, &ep) != nil {
			continue
		}
		bs, _ := vip.FromEndpoint(ep)
		for _, b := range bs {
			if b.VIP.IsNamed() {
				out[b.VIP.DNSName()] = true
			}
		}
	}
	kvs := make([]cluster.KV, 0, len(mesosRecs))
	for _, kv := range mesosRecs {
		kvs = append(kvs, cluster.KV{Key: string(kv.Key), Value: kv.Value})
	}
	for _, b := range parseMesosRecords(kvs, slog.New(slog.DiscardHandler)) {
		if b.VIP.IsNamed() {
			out[b.VIP.DNSName()] = true
		}
	}
	return out
}
