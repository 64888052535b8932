package overlayd

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/overlayd/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// withdrawPoll is how often a withdraw reads the dcnet-l4lb applied keys.
const withdrawPoll = 10 * time.Millisecond

// withdrawLinger is how long a withdraw still waits once every
// dcnet-l4lb has stopped choosing the backend: connections translated to
// it just before complete their handshake and first exchange before the
// interface goes.
const withdrawLinger = 200 * time.Millisecond

// handleWithdraw deletes the attachment's endpoint record, marks it
// withdrawn (no longer published), and waits until every running
// dcnet-l4lb has programmed the deletion or cfg.WithdrawWait passed, so
// that the interface the caller then removes gets no new VIP connection
// (see cluster's doc). It never fails on the store: the publisher deletes
// the record later and the caller goes on after the bound.
func (d *Daemon) handleWithdraw(w http.ResponseWriter, r *http.Request) {
	var id api.AttachmentID
	resp, err := func() (api.WithdrawResponse, error) {
		if err := decode(r, &id); err != nil {
			return api.WithdrawResponse{}, err
		}
		if err := validID(id); err != nil {
			return api.WithdrawResponse{}, err
		}
		att, found, err := d.ipam.Get(ipamID(id))
		if err != nil || !found {
			return api.WithdrawResponse{}, err
		}
		start := time.Now()
		bound := d.cfg.WithdrawWait.Duration
		ctx, cancel := context.WithTimeout(r.Context(), max(bound, 0))
		defer cancel()
		key := cluster.EndpointKey(d.cfg.NodeName, id.Network, id.ContainerID, id.IfName)
		// Stop publishing and delete the record with no publisher sync
		// in between: one that read local state before could write it
		// back after the delete.
		var rev int64
		known := false
		var werr error
		d.publisher.Exclusive(func() {
			if _, _, werr = d.ipam.Withdraw(ipamID(id)); werr != nil || bound <= 0 || d.store == nil {
				return
			}
			del, err := d.store.Client.Delete(ctx, key)
			if err != nil {
				d.log.Warn("withdraw: delete the endpoint record, the publisher retries", "attachment", id.String(), "err", err)
				return
			}
			rev, known = del.Header.Revision, del.Deleted > 0
		})
		if werr != nil {
			return api.WithdrawResponse{}, werr
		}
		d.publisher.Kick()
		out := api.WithdrawResponse{Withdrawn: true}
		if known {
			d.rememberWithdraw(id, rev)
		} else {
			// Already gone: wait for the deletion this daemon made
			// earlier (Docker's Leave, then DeleteEndpoint); one the
			// publisher made is not waited for.
			rev, known = d.withdrawRevision(id)
		}
		if known && declaresVIP(att.Labels) {
			// Only a VIP backend is waited for: nothing else chooses it.
			out.Revision = rev
			out.Acked, out.Pending = d.waitApplied(ctx, rev)
			if out.Acked > 0 {
				sleepCtx(ctx, withdrawLinger)
			}
		}
		out.Waited = time.Since(start)
		if len(out.Pending) > 0 {
			d.log.Warn("withdraw: dcnet-l4lb of some nodes did not program the removal in time", "attachment", id.String(),
				"pending", strings.Join(out.Pending, ","), "waited", out.Waited)
		} else {
			d.log.Debug("withdrawn", "attachment", id.String(), "revision", out.Revision, "acked", out.Acked, "waited", out.Waited)
		}
		return out, nil
	}()
	d.reply(w, r, resp, err)
}

// declaresVIP reports whether labels make the attachment a VIP backend.
func declaresVIP(labels map[string]string) bool {
	for k := range labels {
		if vip.IsVIPKey(k) || vip.IsTaskKey(k) {
			return true
		}
	}
	return false
}

// rememberWithdraw notes the revision at which id's record was deleted,
// for a repeated withdraw (Docker's Leave, then DeleteEndpoint).
func (d *Daemon) rememberWithdraw(id api.AttachmentID, rev int64) {
	d.withdrawMu.Lock()
	defer d.withdrawMu.Unlock()
	if d.withdrawRevs == nil {
		d.withdrawRevs = map[api.AttachmentID]int64{}
	}
	d.withdrawRevs[id] = rev
}

// withdrawRevision returns the revision rememberWithdraw noted for id.
func (d *Daemon) withdrawRevision(id api.AttachmentID) (int64, bool) {
	d.withdrawMu.Lock()
	defer d.withdrawMu.Unlock()
	rev, ok := d.withdrawRevs[id]
	return rev, ok
}

// forgetWithdraw drops id's revision (its attachment is released or
// allocated again).
func (d *Daemon) forgetWithdraw(id api.AttachmentID) {
	d.withdrawMu.Lock()
	defer d.withdrawMu.Unlock()
	delete(d.withdrawRevs, id)
}

// waitApplied polls the dcnet-l4lb applied keys until each holds a
// revision of at least rev, or ctx ends; it returns how many did and the
// nodes that did not.
func (d *Daemon) waitApplied(ctx context.Context, rev int64) (acked int, pending []string) {
	t := time.NewTicker(withdrawPoll)
	defer t.Stop()
	for {
		resp, err := d.store.Client.Get(ctx, cluster.L4LBAppliedPrefix, clientv3.WithPrefix())
		if err == nil {
			acked, pending = 0, nil
			for _, kv := range resp.Kvs {
				var a cluster.L4LBApplied
				if json.Unmarshal(kv.Value, &a) == nil && a.Revision >= rev {
					acked++
					continue
				}
				pending = append(pending, strings.TrimPrefix(string(kv.Key), cluster.L4LBAppliedPrefix))
			}
			slices.Sort(pending)
			if len(pending) == 0 {
				return acked, nil
			}
		}
		select {
		case <-ctx.Done():
			return acked, pending
		case <-t.C:
		}
	}
}
