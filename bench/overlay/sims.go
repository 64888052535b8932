package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/overlayd"
	"github.com/dcnet/dcnet/overlayd/config"
	"github.com/dcnet/dcnet/overlayd/datapath"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Addressing of the simulated nodes: far from what the one real overlayd
// leases (the lowest free subnet and VTEP address), and from the fabric.
const (
	simVTEPOffset = 16 // sim i has VTEP 44.128.0.16+i, fd01:a::10+i
	simsPerOctet  = 250
	movedOctet    = 64  // a moved sim's underlay is 198.19.64+.x
	txnOps        = 100 // below etcd's default --max-txn-ops 128
)

// simNode returns the record of simulated node i (from 0), dual-stack like
// a node running overlayd's default config, with its underlay address
// moved or not.
func simNode(i int, moved bool, now time.Time) cluster.Node {
	sub4 := netip.PrefixFrom(netip.AddrFrom4([4]byte{9, byte(1 + i/256), byte(i % 256), 0}), config.DefaultPrefix)
	var b6 [16]byte
	copy(b6[:], netip.MustParsePrefix(config.DefaultSubnet6).Addr().AsSlice())
	binary.BigEndian.PutUint16(b6[8:], uint16(i+1))
	sub6 := netip.PrefixFrom(netip.AddrFrom16(b6), config.DefaultPrefix6)
	vtep4 := addAddr(netip.MustParsePrefix(config.DefaultVTEPSubnet).Addr(), simVTEPOffset+i)
	vtep6 := addAddr(netip.MustParsePrefix(config.DefaultVTEPSubnet6).Addr(), simVTEPOffset+i)
	third := byte(i / simsPerOctet)
	if moved {
		third += movedOctet
	}
	under := netip.AddrFrom4([4]byte{198, 19, third, byte(i%simsPerOctet + 1)})
	return cluster.Node{
		Name:       fmt.Sprintf("sim%04d", i+1),
		UnderlayIP: under.String(),
		Subnets:    map[string][]string{config.DefaultOverlay: {sub4.String()}, config.DefaultOverlay6: {sub6.String()}},
		VTEPIP:     vtep4.String(),
		VTEPIP6:    vtep6.String(),
		VTEPMAC:    datapath.VTEPMAC(vtep4).String(),
		Updated:    now.UTC(),
	}
}

// addAddr returns a + n for a small n.
func addAddr(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// writeSims writes n node records and their subnet and VTEP leases, as
// overlayd itself would have, in transactions of txnOps puts.
func writeSims(ctx context.Context, cli *clientv3.Client, n int) error {
	now := time.Now()
	var ops []clientv3.Op
	for i := range n {
		nd := simNode(i, false, now)
		b, _ := json.Marshal(nd)
		ops = append(ops, clientv3.OpPut(cluster.NodesPrefix+nd.Name, string(b)))
		for ov, subs := range nd.Subnets {
			p := netip.MustParsePrefix(subs[0])
			ops = append(ops, leaseOp(cluster.SubnetKey(ov, p), nd.Name, ov, p, now))
		}
		v4, v6 := netip.MustParseAddr(nd.VTEPIP), netip.MustParseAddr(nd.VTEPIP6)
		ops = append(ops,
			leaseOp(fmt.Sprintf("%s%s-%d", cluster.VTEPsPrefix, v4, 32), nd.Name, "vtep", netip.PrefixFrom(v4, 32), now),
			leaseOp(fmt.Sprintf("%s%s-%d", cluster.VTEP6sPrefix, v6, 128), nd.Name, "vtep", netip.PrefixFrom(v6, 128), now))
	}
	for len(ops) > 0 {
		k := min(len(ops), txnOps)
		cctx, cancel := context.WithTimeout(ctx, etcdOpTimeout)
		_, err := cli.Txn(cctx).Then(ops[:k]...).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("write simulated nodes: %w", err)
		}
		ops = ops[k:]
	}
	return nil
}

func leaseOp(key, node, kind string, p netip.Prefix, now time.Time) clientv3.Op {
	b, _ := json.Marshal(cluster.SubnetLease{Node: node, Overlay: kind, Subnet: p.String(), Created: now.UTC()})
	return clientv3.OpPut(key, string(b))
}

// peersOf turns node records into datapath peers the way overlayd does:
// decode, then overlayd.PeerFromNode for each other node.
func peersOf(self string, records [][]byte) []datapath.Peer {
	out := make([]datapath.Peer, 0, len(records))
	for _, rec := range records {
		var n cluster.Node
		if json.Unmarshal(rec, &n) != nil || n.Name == "" || n.Name == self {
			continue
		}
		if p, ok := overlayd.PeerFromNode(n); ok {
			out = append(out, p)
		}
	}
	return out
}

// selfVTEP is the VTEP the one real node gets with the default config: the
// lowest addresses of the VTEP ranges.
func selfVTEP(local netip.Addr) *datapath.VTEP {
	v4, v6 := netip.MustParsePrefix(config.DefaultVTEPSubnet), netip.MustParsePrefix(config.DefaultVTEPSubnet6)
	return &datapath.VTEP{Name: config.DefaultVTEPName, VNI: config.DefaultVNI, Port: config.DefaultVTEPPort,
		IP: netip.PrefixFrom(v4.Addr().Next(), v4.Bits()), IP6: netip.PrefixFrom(v6.Addr().Next(), v6.Bits()),
		Local: local, MTU: 1500 - datapath.VXLANOverhead}
}

// planTimes times overlayd's planning for one changed record among n, in
// process and without a kernel, changes times: PlanPeers+DiffPeers alone,
// and with the decoding of every record in front as overlayd's reconcile
// does it.
func planTimes(n, changes int, local netip.Addr) (plan, decodePlan []time.Duration, err error) {
	now := time.Now()
	records := make([][]byte, n)
	for i := range n {
		records[i], _ = json.Marshal(simNode(i, false, now))
	}
	v := selfVTEP(local)
	have := datapath.PlanPeers(v, "s1", peersOf("s1", records))
	moved := make([]bool, n)
	for k := range changes {
		i := changeIndex(k, n)
		moved[i] = !moved[i]
		records[i], _ = json.Marshal(simNode(i, moved[i], now))
		peers := peersOf("s1", records) // untimed here: the pure row

		start := time.Now()
		want := datapath.PlanPeers(v, "s1", peers)
		c := datapath.DiffPeers(have, want)
		plan = append(plan, time.Since(start))
		if c.Len() != 1 {
			return nil, nil, fmt.Errorf("plan of change %d: %d writes, want 1", k, c.Len())
		}

		start = time.Now()
		want = datapath.PlanPeers(v, "s1", peersOf("s1", records))
		c = datapath.DiffPeers(have, want)
		decodePlan = append(decodePlan, time.Since(start))
		if c.Len() != 1 {
			return nil, nil, fmt.Errorf("decode+plan of change %d: %d writes, want 1", k, c.Len())
		}
		have = want
	}
	return plan, decodePlan, nil
}

// changeIndex spreads the changes over the simulated nodes.
func changeIndex(k, n int) int { return (k * 7919) % n }
