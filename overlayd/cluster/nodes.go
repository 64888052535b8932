package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Node is a node's persistent record.
type Node struct {
	Name       string `json:"name"`
	UnderlayIP string `json:"underlayIP,omitempty"`
	// Subnets maps overlay name to the node's subnets in it ("9.0.1.0/24",
	// "fd01:b::1:0:0:0/80").
	Subnets map[string][]string `json:"subnets,omitempty"`
	// VTEP addresses and MAC of the node's VxLAN device.
	VTEPIP  string    `json:"vtepIP,omitempty"`
	VTEPIP6 string    `json:"vtepIP6,omitempty"`
	VTEPMAC string    `json:"vtepMAC,omitempty"`
	Updated time.Time `json:"updated"`
}

// SubnetLease is the value of a subnet key.
type SubnetLease struct {
	Node    string    `json:"node"`
	Overlay string    `json:"overlay"`
	Subnet  string    `json:"subnet"`
	Created time.Time `json:"created"`
}

// maxLeaseAttempts bounds the compare-and-swap retries of one allocation.
const maxLeaseAttempts = 64

// ErrRangeFull is wrapped when an overlay range has no free node subnet.
var ErrRangeFull = errors.New("no free node subnet")

// SubnetKey is the key of subnet p of overlay.
func SubnetKey(overlay string, p netip.Prefix) string {
	return blockKey(SubnetsPrefix+overlay+"/", p)
}

func blockKey(keyPrefix string, p netip.Prefix) string {
	return fmt.Sprintf("%s%s-%d", keyPrefix, p.Addr(), p.Bits())
}

// parseSubnetKey reverses SubnetKey's last element.
func parseSubnetKey(key string) (netip.Prefix, bool) {
	i := strings.LastIndexByte(key, '/')
	tail := key[i+1:]
	j := strings.LastIndexByte(tail, '-')
	if j < 0 {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(tail[:j] + "/" + tail[j+1:])
	return p, err == nil
}

// PutNode writes the node's record.
func (s *Store) PutNode(ctx context.Context, n Node) error {
	n.Updated = time.Now().UTC()
	b, _ := json.Marshal(n)
	ctx, cancel := opCtx(ctx)
	defer cancel()
	if _, err := s.Client.Put(ctx, NodesPrefix+n.Name, string(b)); err != nil {
		return fmt.Errorf("write node record %s: %w", n.Name, err)
	}
	return nil
}

// LeaseSubnet returns node's subnet of length bits inside rng for overlay,
// allocating the lowest free one atomically when the node holds none.
// prefer, when valid and free (or already the node's), is taken first: a
// node that remembers its subnet gets it back.
func (s *Store) LeaseSubnet(ctx context.Context, overlay, node string, rng netip.Prefix, bits int, prefer netip.Prefix) (netip.Prefix, error) {
	return s.leaseBlock(ctx, SubnetsPrefix+overlay+"/", overlay, node, rng, bits, prefer, nil)
}

// leaseBlock is the allocation behind subnets and VTEP addresses: blocks of
// length bits inside rng, one key per block under keyPrefix, never one of
// reserved.
func (s *Store) leaseBlock(ctx context.Context, keyPrefix, kind, node string, rng netip.Prefix, bits int, prefer netip.Prefix, reserved []netip.Prefix) (netip.Prefix, error) {
	for attempt := 0; attempt < maxLeaseAttempts; attempt++ {
		taken, err := s.blockLeases(ctx, keyPrefix)
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
		won, err := s.claim(ctx, keyPrefix, kind, node, cand)
		if err != nil {
			return netip.Prefix{}, err
		}
		if won {
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%s: lost %d allocation races in a row, giving up", kind, maxLeaseAttempts)
}

func (s *Store) claim(ctx context.Context, keyPrefix, kind, node string, p netip.Prefix) (bool, error) {
	key := blockKey(keyPrefix, p)
	b, _ := json.Marshal(SubnetLease{Node: node, Overlay: kind, Subnet: p.String(), Created: time.Now().UTC()})
	ctx, cancel := opCtx(ctx)
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
func (s *Store) blockLeases(ctx context.Context, keyPrefix string) (map[netip.Prefix]SubnetLease, error) {
	ctx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := s.Client.Get(ctx, keyPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read leases under %s: %w", keyPrefix, err)
	}
	out := make(map[netip.Prefix]SubnetLease, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		p, ok := parseSubnetKey(string(kv.Key))
		if !ok {
			continue
		}
		var l SubnetLease
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
