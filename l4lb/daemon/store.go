package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/overlayd/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Store key prefixes of dcnet-l4lb.
const (
	VIPsPrefix     = cluster.Prefix + "vips/"
	vipNamesPrefix = VIPsPrefix + "name/"
	vipAddrsPrefix = VIPsPrefix + "addr/"
	// VIPNamesPrefix holds the DNS records of programmed named VIPs.
	VIPNamesPrefix = cluster.Prefix + "vipnames/"
	// vipAndNamesPrefix covers VIPsPrefix and VIPNamesPrefix.
	vipAndNamesPrefix = cluster.Prefix + "vip"
)

// Named VIP address ranges.
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

// NameRecord is the value of a VIPNamesPrefix key.
type NameRecord struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

// parseAllocs reads the allocated addresses from the vips prefix cache.
func parseAllocs(kvs []cluster.KV) (map[AllocKey]netip.Addr, map[netip.Addr]bool) {
	byName := map[AllocKey]netip.Addr{}
	used := map[netip.Addr]bool{}
	for _, kv := range kvs {
		switch {
		case strings.HasPrefix(kv.Key, vipNamesPrefix):
			k, ok := parseAllocKey(strings.TrimPrefix(kv.Key, vipNamesPrefix))
			a, err := netip.ParseAddr(string(kv.Value))
			if ok && err == nil {
				byName[k] = a
				used[a] = true
			}
		case strings.HasPrefix(kv.Key, vipAddrsPrefix):
			if a, err := netip.ParseAddr(strings.TrimPrefix(kv.Key, vipAddrsPrefix)); err == nil {
				used[a] = true
			}
		}
	}
	return byName, used
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

// allocate returns k's address, claiming the lowest address of its range
// not in used when k has none. used is updated with what it learns.
func allocate(ctx context.Context, cli *clientv3.Client, k AllocKey, used map[netip.Addr]bool) (netip.Addr, error) {
	rng := Range4
	if k.Family == dataplane.IPv6 {
		rng = Range6
	}
	nameKey := vipNamesPrefix + k.String()
	cand := rng.Addr().Next()
	for range maxAllocAttempts {
		for used[cand] {
			cand = cand.Next()
		}
		if !rng.Contains(cand) {
			return netip.Addr{}, fmt.Errorf("allocate %s in %s: %w", k, rng, ErrRangeFull)
		}
		addrKey := vipAddrsPrefix + cand.String()
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

// publishName writes rec under VIPNamesPrefix.
func publishName(ctx context.Context, cli *clientv3.Client, rec NameRecord) error {
	b, _ := json.Marshal(rec)
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if _, err := cli.Put(cctx, VIPNamesPrefix+rec.Name, string(b)); err != nil {
		return fmt.Errorf("publish vip name %s: %w", rec.Name, err)
	}
	return nil
}
