package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vipaddr"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Named VIP prefixes: every node routes them to dcnet-l4lb's link. The
// addresses are derived within them as dcos-net did (vipaddr.Default4,
// vipaddr.Default6).
var (
	Range4 = netip.MustParsePrefix("11.0.0.0/8")
	Range6 = netip.MustParsePrefix("fd01:c::/64")
)

const (
	storeTimeout     = 5 * time.Second
	maxAllocAttempts = 64
)

// ErrRangeFull means a named VIP range has no free address.
var ErrRangeFull = errors.New("no free address")

// parseAllocs reads the allocated addresses from the vips prefix cache:
// each name's address, and each allocated address's owner (a DNS name; an
// address key whose value is not <family>/<name> still counts as held).
func parseAllocs(kvs []cluster.KV) (byName map[AllocKey]netip.Addr, owners map[netip.Addr]string) {
	byName = map[AllocKey]netip.Addr{}
	owners = map[netip.Addr]string{}
	for _, kv := range kvs {
		switch {
		case strings.HasPrefix(kv.Key, cluster.VIPNamePrefix):
			k, ok := parseAllocKey(strings.TrimPrefix(kv.Key, cluster.VIPNamePrefix))
			a, err := netip.ParseAddr(string(kv.Value))
			if ok && err == nil {
				byName[k] = a
				owners[a] = k.Name
			}
		case strings.HasPrefix(kv.Key, cluster.VIPAddrPrefix):
			a, err := netip.ParseAddr(strings.TrimPrefix(kv.Key, cluster.VIPAddrPrefix))
			if err != nil {
				continue
			}
			if _, known := owners[a]; !known {
				k, _ := parseAllocKey(string(kv.Value))
				owners[a] = cmp.Or(k.Name, string(kv.Value))
			}
		}
	}
	return byName, owners
}

// usedAddrs is the set of owners' addresses, for the allocator.
func usedAddrs(owners map[netip.Addr]string) map[netip.Addr]bool {
	used := make(map[netip.Addr]bool, len(owners))
	for a := range owners {
		used[a] = true
	}
	return used
}

func parseAllocKey(s string) (AllocKey, bool) {
	fam, name, ok := strings.Cut(s, "/")
	switch {
	case !ok || name == "":
		return AllocKey{}, false
	case fam == dataplane.IPv4.String():
		return AllocKey{Family: dataplane.IPv4, Name: name}, true
	case fam == dataplane.IPv6.String():
		return AllocKey{Family: dataplane.IPv6, Name: name}, true
	}
	return AllocKey{}, false
}

// rangeOf is the named-VIP address range of family f.
func rangeOf(f dataplane.Family) vipaddr.Range {
	if f == dataplane.IPv6 {
		return vipaddr.Default6
	}
	return vipaddr.Default4
}

// candidate is the address k claims next: the address dcos-net derives
// from k's name (vipaddr), or the next ones after it (linear probing,
// wrapping at the end of the range) while used holds them or taken (the
// batch's own claims) does. It fails when the probe went round every
// address in used without finding a free one.
func candidate(k AllocKey, used, taken map[netip.Addr]bool) (netip.Addr, error) {
	rng := rangeOf(k.Family)
	cand := rng.Start(vipaddr.Term(k.Name))
	for i := 0; used[cand] || taken[cand]; i++ {
		if i > len(used)+len(taken) {
			return netip.Addr{}, fmt.Errorf("allocate %s in %s: %w", k, rng, ErrRangeFull)
		}
		cand = rng.Next(cand)
	}
	return cand, nil
}

// allocate returns k's address, claiming candidate(k) when k has none.
// used is updated with what it learns.
func allocate(ctx context.Context, cli *clientv3.Client, k AllocKey, used map[netip.Addr]bool) (netip.Addr, error) {
	nameKey := cluster.VIPNamePrefix + k.String()
	for range maxAllocAttempts {
		cand, err := candidate(k, used, nil)
		if err != nil {
			return netip.Addr{}, err
		}
		addrKey := cluster.VIPAddrPrefix + cand.String()
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		resp, err := cli.Txn(cctx).
			If(clientv3.Compare(clientv3.CreateRevision(nameKey), "=", 0),
				clientv3.Compare(clientv3.CreateRevision(addrKey), "=", 0)).
			Then(clientv3.OpPut(nameKey, cand.String()), clientv3.OpPut(addrKey, k.String())).
			Else(clientv3.OpGet(nameKey)).
			Commit()
		cancel()
		if err != nil {
			return netip.Addr{}, fmt.Errorf("allocate %s: claim %s: %w", k, cand, err)
		}
		if resp.Succeeded {
			used[cand] = true
			return cand, nil
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			a, err := netip.ParseAddr(string(kvs[0].Value))
			if err != nil {
				return netip.Addr{}, fmt.Errorf("allocate %s: stored address %q: %w", k, kvs[0].Value, err)
			}
			used[a] = true
			return a, nil // another node won the name
		}
		used[cand] = true // another name holds the address
	}
	return netip.Addr{}, fmt.Errorf("allocate %s: lost %d races in a row", k, maxAllocAttempts)
}

// allocBatch is how many names one allocation transaction claims: two
// compares and two puts each, within etcd's default --max-txn-ops (128).
const allocBatch = 32

// allocateAll claims an address for each of keys, allocBatch names per
// transaction: each name gets its candidate address, and the
// transaction applies only if no name and no address is taken yet. When
// it does not apply (another node claimed one of its names or addresses
// first), the same transaction has read those keys: the names already
// claimed take their winner's address, the taken addresses are marked
// used, and the rest is tried again. Names still unsettled after
// maxAllocAttempts rounds, or refused by a lower --max-txn-ops, are
// claimed one by one with allocate. When etcd fails, every name left gets
// that error at once (no claim per name, each waiting out its timeout).
// It returns the addresses it got and an error per key that got none.
func allocateAll(ctx context.Context, cli *clientv3.Client, keys []AllocKey, used map[netip.Addr]bool) (map[AllocKey]netip.Addr, map[AllocKey]error) {
	got := make(map[AllocKey]netip.Addr, len(keys))
	errs := map[AllocKey]error{}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), allocBatch)]
		keys = keys[len(batch):]
		for range maxAllocAttempts {
			if len(batch) < 2 {
				break
			}
			rest, ok, err := allocateBatch(ctx, cli, batch, used, got)
			if err != nil && !txnTooBig(err) {
				for _, k := range append(batch, keys...) {
					errs[k] = fmt.Errorf("allocate %s: %w", k, err)
				}
				return got, errs
			}
			if !ok {
				break
			}
			batch = rest
		}
		for _, k := range batch {
			a, err := allocate(ctx, cli, k, used)
			if err != nil {
				errs[k] = err
				continue
			}
			got[k] = a
		}
	}
	return got, errs
}

// allocateBatch claims the next free address for every key of batch in
// one transaction. When it does not apply it learns from the keys read
// instead: names claimed elsewhere go into got, taken addresses into used;
// rest are the keys still to claim. ok is false when nothing could be
// learnt (the range is full, a stored value is bad, etcd failed: err):
// allocate then says which.
func allocateBatch(ctx context.Context, cli *clientv3.Client, batch []AllocKey, used map[netip.Addr]bool, got map[AllocKey]netip.Addr) (rest []AllocKey, ok bool, err error) {
	var cmps []clientv3.Cmp
	var puts, gets []clientv3.Op
	cands := make([]netip.Addr, len(batch))
	taken := map[netip.Addr]bool{}
	for i, k := range batch {
		cand, err := candidate(k, used, taken)
		if err != nil {
			return batch, false, nil
		}
		taken[cand], cands[i] = true, cand
		nameKey, addrKey := cluster.VIPNamePrefix+k.String(), cluster.VIPAddrPrefix+cand.String()
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(nameKey), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(addrKey), "=", 0))
		puts = append(puts, clientv3.OpPut(nameKey, cand.String()), clientv3.OpPut(addrKey, k.String()))
		gets = append(gets, clientv3.OpGet(nameKey), clientv3.OpGet(addrKey))
	}
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	resp, err := cli.Txn(cctx).If(cmps...).Then(puts...).Else(gets...).Commit()
	if err != nil {
		return batch, false, err
	}
	if resp.Succeeded {
		for i, k := range batch {
			used[cands[i]] = true
			got[k] = cands[i]
		}
		return nil, true, nil
	}
	for i, k := range batch {
		if kvs := resp.Responses[2*i].GetResponseRange().Kvs; len(kvs) > 0 {
			a, err := netip.ParseAddr(string(kvs[0].Value))
			if err != nil {
				return batch, false, nil
			}
			used[a], got[k] = true, a // another node won the name
			continue
		}
		if len(resp.Responses[2*i+1].GetResponseRange().Kvs) > 0 {
			used[cands[i]] = true // another name holds the address
		}
		rest = append(rest, k)
	}
	return rest, true, nil
}

// txnTooBig reports an etcd refusal of a transaction for its size (a
// --max-txn-ops or --max-request-bytes below the defaults): smaller ones
// may pass.
func txnTooBig(err error) bool {
	return errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge)
}

// putNames writes recs under cluster.VIPNamesPrefix, up to 128 per transaction
// (halved while etcd refuses a transaction for its size); it returns an
// error per name it could not write. When etcd fails, every name left gets
// that error at once.
func putNames(ctx context.Context, cli *clientv3.Client, recs []cluster.VIPName) map[string]error {
	errs := map[string]error{}
	size := cluster.MaxTxnOps
	for len(recs) > 0 {
		batch := recs[:min(len(recs), size)]
		ops := make([]clientv3.Op, len(batch))
		for i, rec := range batch {
			b, _ := json.Marshal(rec)
			ops[i] = clientv3.OpPut(cluster.VIPNamesPrefix+rec.Name, string(b))
		}
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		_, err := cli.Txn(cctx).Then(ops...).Commit()
		cancel()
		switch {
		case err == nil:
			recs = recs[len(batch):]
		case txnTooBig(err) && len(batch) > 1:
			size = len(batch) / 2
		default:
			for _, rec := range recs {
				errs[rec.Name] = fmt.Errorf("publish vip name %s: %w", rec.Name, err)
			}
			return errs
		}
	}
	return errs
}
