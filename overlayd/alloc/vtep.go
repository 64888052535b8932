package alloc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/cluster"
)

// LeaseVTEP returns node's VTEP address inside rng (one /32 or /128),
// allocating the lowest free one atomically when the node holds none. The
// range's network address (and for IPv4 its broadcast) is never used, so
// 44.128.0.0/20 starts at 44.128.0.1 as in DC/OS.
func LeaseVTEP(ctx context.Context, s *cluster.Store, node string, rng netip.Prefix, prefer netip.Addr) (netip.Addr, error) {
	bits := rng.Addr().BitLen()
	keyPrefix := cluster.VTEPsPrefix
	if rng.Addr().Is6() {
		keyPrefix = cluster.VTEP6sPrefix
	}
	reserved := []netip.Prefix{netip.PrefixFrom(rng.Masked().Addr(), bits)}
	if rng.Addr().Is4() {
		reserved = append(reserved, netip.PrefixFrom(lastAddr(rng), bits))
	}
	var pref netip.Prefix
	if prefer.IsValid() {
		pref = netip.PrefixFrom(prefer, bits)
	}
	p, err := leaseBlock(ctx, s, keyPrefix, "vtep", node, rng, bits, pref, reserved)
	return p.Addr(), err
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	hostBits := p.Addr().BitLen() - p.Bits()
	for i := len(b) - 1; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// RemoveNode deletes a node and frees everything it held: its record,
// liveness key, endpoint records, subnet leases and VTEP addresses. Every
// peer drops it on the next watch event. It reports what it removed.
func RemoveNode(ctx context.Context, s *cluster.Store, node string) (int, error) {
	ctx, cancel := cluster.OpContext(ctx)
	defer cancel()
	var ops []clientv3.Op
	for _, prefix := range []string{cluster.SubnetsPrefix, cluster.VTEPsPrefix, cluster.VTEP6sPrefix} {
		resp, err := s.Client.Get(ctx, prefix, clientv3.WithPrefix())
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", prefix, err)
		}
		for _, kv := range resp.Kvs {
			var l cluster.SubnetLease
			if json.Unmarshal(kv.Value, &l) == nil && l.Node == node {
				ops = append(ops, clientv3.OpDelete(string(kv.Key)))
			}
		}
	}
	ops = append(ops,
		clientv3.OpDelete(cluster.NodeKey(node)),
		clientv3.OpDelete(cluster.AliveKey(node)),
		clientv3.OpDelete(cluster.NodeEndpointsPrefix(node), clientv3.WithPrefix()))
	removed := 0
	for len(ops) > 0 {
		n := min(len(ops), cluster.MaxTxnOps)
		resp, err := s.Client.Txn(ctx).Then(ops[:n]...).Commit()
		if err != nil {
			return removed, fmt.Errorf("remove node %s: %w", node, err)
		}
		for _, r := range resp.Responses {
			if d := r.GetResponseDeleteRange(); d != nil {
				removed += int(d.Deleted)
			}
		}
		ops = ops[n:]
	}
	return removed, nil
}
