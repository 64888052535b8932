// Package alloc is overlayd's share of the cluster store: the node's
// record, and the blocks a node holds for itself (overlay subnets, VTEP
// addresses), allocated with compare-and-swap transactions so two nodes
// never hold the same one, and freed when a node is removed.
//
// Subnet allocation: read the overlay's leases; if the node already holds one
// in the wanted range it is returned; otherwise the lowest free block is
// claimed with a transaction that succeeds only if the key does not exist
// (CreateRevision == 0). A lost race re-reads and tries the next block, so two
// nodes can never hold the same subnet.
package alloc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/cluster"
)

// maxLeaseAttempts bounds the compare-and-swap retries of one allocation.
const maxLeaseAttempts = 64

// ErrRangeFull is wrapped when an overlay range has no free node subnet.
var ErrRangeFull = errors.New("no free node subnet")

// PutNode writes the node's record.
func PutNode(ctx context.Context, s *cluster.Store, n cluster.Node) error {
	n.Updated = time.Now().UTC()
	b, _ := json.Marshal(n)
	ctx, cancel := cluster.OpContext(ctx)
	defer cancel()
	if _, err := s.Client.Put(ctx, cluster.NodeKey(n.Name), string(b)); err != nil {
		return fmt.Errorf("write node record %s: %w", n.Name, err)
	}
	return nil
}

// LeaseSubnet returns node's subnet of length bits inside rng for overlay,
// allocating the lowest free one atomically when the node holds none.
// prefer, when valid and free (or already the node's), is taken first: a
// node that remembers its subnet gets it back.
func LeaseSubnet(ctx context.Context, s *cluster.Store, overlay, node string, rng netip.Prefix, bits int, prefer netip.Prefix) (netip.Prefix, error) {
	return leaseBlock(ctx, s, cluster.SubnetsPrefix+overlay+"/", overlay, node, rng, bits, prefer, nil)
}

// leaseBlock is the allocation behind subnets and VTEP addresses: blocks of
// length bits inside rng, one key per block under keyPrefix, never one of
// reserved.
func leaseBlock(ctx context.Context, s *cluster.Store, keyPrefix, kind, node string, rng netip.Prefix, bits int, prefer netip.Prefix, reserved []netip.Prefix) (netip.Prefix, error) {
	for attempt := 0; attempt < maxLeaseAttempts; attempt++ {
		taken, err := blockLeases(ctx, s, keyPrefix)
		if err != nil {
			return netip.Prefix{}, err
		}
		used := append([]netip.Prefix(nil), reserved...)
		for p, l := range taken {
			if l.Node == node && rng.Contains(p.Addr()) && p.Bits() == bits {
				return p, nil
			}
			used = append(used, p)
		}
		cand := netip.Prefix{}
		if prefer.IsValid() && prefer.Bits() == bits && rng.Contains(prefer.Addr()) {
			free := true
			for _, u := range used {
				if u.Overlaps(prefer) {
					free = false
				}
			}
			if free {
				cand = prefer
			}
		}
		if !cand.IsValid() {
			var ok bool
			cand, ok = LowestFree(rng, bits, used)
			if !ok {
				return netip.Prefix{}, fmt.Errorf("%s range %s: %w of length /%d (%d in use)", kind, rng, ErrRangeFull, bits, len(taken))
			}
		}
		won, err := claim(ctx, s, keyPrefix, kind, node, cand)
		if err != nil {
			return netip.Prefix{}, err
		}
		if won {
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%s: lost %d allocation races in a row, giving up", kind, maxLeaseAttempts)
}

func claim(ctx context.Context, s *cluster.Store, keyPrefix, kind, node string, p netip.Prefix) (bool, error) {
	key := cluster.BlockKey(keyPrefix, p)
	b, _ := json.Marshal(cluster.SubnetLease{Node: node, Overlay: kind, Subnet: p.String(), Created: time.Now().UTC()})
	ctx, cancel := cluster.OpContext(ctx)
	defer cancel()
	resp, err := s.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(b))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("claim %s %s: %w", kind, p, err)
	}
	return resp.Succeeded, nil
}

// blockLeases returns the leases under keyPrefix.
func blockLeases(ctx context.Context, s *cluster.Store, keyPrefix string) (map[netip.Prefix]cluster.SubnetLease, error) {
	ctx, cancel := cluster.OpContext(ctx)
	defer cancel()
	resp, err := s.Client.Get(ctx, keyPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read leases under %s: %w", keyPrefix, err)
	}
	out := make(map[netip.Prefix]cluster.SubnetLease, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		p, ok := cluster.ParseBlockKey(string(kv.Key))
		if !ok {
			continue
		}
		var l cluster.SubnetLease
		if json.Unmarshal(kv.Value, &l) != nil {
			continue
		}
		out[p] = l
	}
	return out, nil
}

// LowestFree returns the lowest subnet of length bits inside rng that does
// not overlap any of used. It visits at most len(used)+1 candidates after
// skipping, so it is cheap even for huge ranges.
func LowestFree(rng netip.Prefix, bits int, used []netip.Prefix) (netip.Prefix, bool) {
	if bits < rng.Bits() || bits > rng.Addr().BitLen() {
		return netip.Prefix{}, false
	}
	addrBits := rng.Addr().BitLen()
	step := new(big.Int).Lsh(big.NewInt(1), uint(addrBits-bits))
	end := new(big.Int).Add(addrToInt(rng.Masked().Addr()), new(big.Int).Lsh(big.NewInt(1), uint(addrBits-rng.Bits())))
	cur := addrToInt(rng.Masked().Addr())
	for i := 0; i <= len(used)+1; i++ {
		if cur.Cmp(end) >= 0 {
			return netip.Prefix{}, false
		}
		cand := netip.PrefixFrom(intToAddr(cur, rng.Addr().Is4()), bits)
		clash := false
		for _, u := range used {
			if u.Overlaps(cand) {
				clash = true
				// jump past the clashing block
				uEnd := new(big.Int).Add(addrToInt(u.Masked().Addr()), new(big.Int).Lsh(big.NewInt(1), uint(addrBits-u.Bits())))
				if uEnd.Cmp(cur) > 0 {
					cur = roundUp(uEnd, step)
				} else {
					cur.Add(cur, step)
				}
				break
			}
		}
		if !clash {
			return cand, true
		}
	}
	return netip.Prefix{}, false
}

func roundUp(v, step *big.Int) *big.Int {
	r := new(big.Int).Mod(v, step)
	if r.Sign() == 0 {
		return v
	}
	return v.Add(v, new(big.Int).Sub(step, r))
}

func addrToInt(a netip.Addr) *big.Int {
	b := a.AsSlice()
	return new(big.Int).SetBytes(b)
}

func intToAddr(v *big.Int, is4 bool) netip.Addr {
	n := 16
	if is4 {
		n = 4
	}
	buf := make([]byte, n)
	v.FillBytes(buf)
	a, _ := netip.AddrFromSlice(buf)
	return a
}
