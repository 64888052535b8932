package doctor

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// KV is one key of the store with its value and the lease it is held
// under (0: none).
type KV struct {
	Key   string
	Value []byte
	Lease int64
}

// Etcdctl is the head of the etcdctl command lines findings print
// ("etcdctl" or "etcdctl --endpoints ...").
type Etcdctl string

func (e Etcdctl) get(key string) string       { return string(e) + " get " + key }
func (e Etcdctl) prefix(prefix string) string { return string(e) + " get --prefix " + prefix }

// CheckNodeRecord compares this node's record in the store (nil when
// missing) with overlayd's identity: name, underlay, VTEP addresses and
// MAC, and the node subnet of every overlay.
func CheckNodeRecord(st api.Status, rec *KV, etcdctl Etcdctl) Check {
	key := cluster.NodeKey(st.Node)
	cmd := etcdctl.get(key)
	if rec == nil {
		return newCheck(Overlayd, "node record", 1, []Finding{{Kind: Missing, Object: key,
			Detail: "the other nodes program this node from it", Command: cmd}})
	}
	var n cluster.Node
	if err := json.Unmarshal(rec.Value, &n); err != nil {
		return newCheck(Overlayd, "node record", 1, []Finding{{Kind: Wrong, Object: key, Want: "a JSON node record", Have: err.Error(), Command: cmd}})
	}
	var fs []Finding
	attr := func(what, want, have string) {
		if want != have {
			fs = append(fs, Finding{Kind: Wrong, Object: key + " " + what, Want: orNone(want), Have: orNone(have), Command: cmd})
		}
	}
	attr("name", st.Node, n.Name)
	attr("underlayIP", st.UnderlayIP, n.UnderlayIP)
	attr("vtepIP", st.VTEP.IP, n.VTEPIP)
	attr("vtepIP6", st.VTEP.IP6, n.VTEPIP6)
	attr("vtepMAC", st.VTEP.MAC, n.VTEPMAC)
	for _, nw := range st.Networks {
		want, ok := nodeSubnets(nw)
		if !ok {
			continue // a subnet not on its bridge yet: overlayd is still leasing
		}
		have := slices.Sorted(slices.Values(n.Subnets[nw.Name]))
		attr("subnets of "+nw.Name, strings.Join(want, ","), strings.Join(have, ","))
	}
	return newCheck(Overlayd, "node record", 1, fs)
}

// nodeSubnets returns the node subnets of n, sorted, and whether every
// configured family has one.
func nodeSubnets(n api.Network) ([]string, bool) {
	var out []string
	for _, pair := range [][2]string{{n.Subnet, n.NodeSubnet}, {n.Subnet6, n.NodeSubnet6}} {
		if pair[0] == "" {
			continue
		}
		if pair[1] == "" {
			return nil, false
		}
		out = append(out, pair[1])
	}
	slices.Sort(out)
	return out, true
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// LeaseKeys are the keys of the leases overlayd holds: every node subnet
// and the VTEP addresses.
func LeaseKeys(st api.Status) []string {
	var keys []string
	for _, n := range st.Networks {
		for _, s := range []string{n.NodeSubnet, n.NodeSubnet6} {
			if p, err := netip.ParsePrefix(s); err == nil {
				keys = append(keys, cluster.SubnetKey(n.Name, p))
			}
		}
	}
	for _, s := range []string{st.VTEP.IP, st.VTEP.IP6} {
		if a, err := netip.ParseAddr(s); err == nil {
			keys = append(keys, cluster.VTEPKey(a))
		}
	}
	return keys
}

// CheckLeases checks that every key of LeaseKeys is in got and names this
// node as the holder.
func CheckLeases(st api.Status, got map[string]KV, etcdctl Etcdctl) Check {
	keys := LeaseKeys(st)
	var fs []Finding
	for _, k := range keys {
		kv, ok := got[k]
		if !ok {
			fs = append(fs, Finding{Kind: Missing, Object: k, Detail: "another node may claim it", Command: etcdctl.get(k)})
			continue
		}
		var l cluster.SubnetLease
		if err := json.Unmarshal(kv.Value, &l); err != nil || l.Node != st.Node {
			have := l.Node
			if err != nil {
				have = err.Error()
			}
			fs = append(fs, Finding{Kind: Wrong, Object: k, Want: "held by " + st.Node, Have: "held by " + orNone(have),
				Detail: "two nodes use one block", Command: etcdctl.get(k)})
		}
	}
	return newCheck(Overlayd, "subnet and VTEP leases", len(keys), fs)
}

// CheckLiveness checks this node's liveness key (nil when missing): its
// record names this node and its underlay, and it is held under a lease.
func CheckLiveness(st api.Status, alive *KV, etcdctl Etcdctl) Check {
	key := cluster.AliveKey(st.Node)
	cmd := etcdctl.get(key)
	if alive == nil {
		return newCheck(Overlayd, "liveness", 1, []Finding{{Kind: Missing, Object: key,
			Detail: "the cluster takes this node for gone: every dcnet-l4lb drops its backends", Command: cmd}})
	}
	var fs []Finding
	var a cluster.Alive
	if err := json.Unmarshal(alive.Value, &a); err != nil {
		fs = append(fs, Finding{Kind: Wrong, Object: key, Want: "a JSON liveness record", Have: err.Error(), Command: cmd})
	} else {
		if a.Node != st.Node {
			fs = append(fs, Finding{Kind: Wrong, Object: key + " node", Want: st.Node, Have: orNone(a.Node), Command: cmd})
		}
		if a.UnderlayIP != "" && st.UnderlayIP != "" && a.UnderlayIP != st.UnderlayIP {
			fs = append(fs, Finding{Kind: Wrong, Object: key + " underlayIP", Want: st.UnderlayIP, Have: a.UnderlayIP, Command: cmd})
		}
	}
	if alive.Lease == 0 {
		fs = append(fs, Finding{Kind: Wrong, Object: key, Want: "held under the node's liveness lease", Have: "no lease",
			Detail: "it would outlive the node", Command: string(etcdctl) + " get -w json " + key})
	}
	return newCheck(Overlayd, "liveness", 1, fs)
}

// CheckEndpoints compares overlayd's attachments with this node's endpoint
// records in the store (recs, under cluster.NodeEndpointsPrefix): one
// record per attachment with its addresses, labels and port mappings,
// held under the liveness lease (aliveLease; 0: unknown), and no other.
func CheckEndpoints(st api.Status, atts []api.Attachment, recs []KV, aliveLease int64, etcdctl Etcdctl) Check {
	byKey := map[string]KV{}
	for _, kv := range recs {
		byKey[kv.Key] = kv
	}
	var fs []Finding
	for _, a := range atts {
		key := cluster.EndpointKey(st.Node, a.Network, a.ContainerID, a.IfName)
		cmd := etcdctl.get(key)
		kv, ok := byKey[key]
		delete(byKey, key)
		if a.Withdrawn {
			continue // being removed: its record is gone or going
		}
		if !ok {
			fs = append(fs, Finding{Kind: Missing, Object: key, Detail: "attachment " + a.String() + " of overlayd", Command: cmd})
			continue
		}
		var e cluster.Endpoint
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			fs = append(fs, Finding{Kind: Wrong, Object: key, Want: "a JSON endpoint record", Have: err.Error(), Command: cmd})
			continue
		}
		for _, d := range endpointDiffs(st, a, e) {
			fs = append(fs, Finding{Kind: Wrong, Object: key + " " + d[0], Want: d[1], Have: d[2], Command: cmd})
		}
		if aliveLease != 0 && kv.Lease != aliveLease {
			fs = append(fs, Finding{Kind: Wrong, Object: key + " lease", Want: fmt.Sprintf("%x (the liveness lease)", aliveLease),
				Have: fmt.Sprintf("%x", kv.Lease), Detail: "it would not leave with the node", Command: string(etcdctl) + " get -w json " + key})
		}
	}
	for _, kv := range recs {
		if _, left := byKey[kv.Key]; left {
			fs = append(fs, Finding{Kind: Extra, Object: kv.Key, Detail: "no attachment of overlayd's", Command: etcdctl.get(kv.Key)})
		}
	}
	return newCheck(Overlayd, "endpoint records", len(atts), fs)
}

// endpointDiffs lists the fields of e that differ from what overlayd
// publishes for a: {field, want, have}.
func endpointDiffs(st api.Status, a api.Attachment, e cluster.Endpoint) [][3]string {
	var out [][3]string
	diff := func(field, want, have string) {
		if want != have {
			out = append(out, [3]string{field, orNone(want), orNone(have)})
		}
	}
	var wantIPs, haveIPs []string
	for _, ip := range a.IPs {
		wantIPs = append(wantIPs, ip.Address+" gw "+ip.Gateway)
	}
	for _, ip := range e.IPs {
		haveIPs = append(haveIPs, ip.Address+" gw "+ip.Gateway)
	}
	diff("ips", strings.Join(wantIPs, ","), strings.Join(haveIPs, ","))
	diff("labels", labelsString(a.Labels), labelsString(e.Labels))
	var wantPM, havePM []string
	for _, p := range a.PortMappings {
		wantPM = append(wantPM, fmt.Sprintf("%s:%d->%d/%s", p.HostIP, p.HostPort, p.ContainerPort, p.Protocol))
	}
	for _, p := range e.PortMappings {
		havePM = append(havePM, fmt.Sprintf("%s:%d->%d/%s", p.HostIP, p.HostPort, p.ContainerPort, p.Protocol))
	}
	diff("portMappings", strings.Join(wantPM, ","), strings.Join(havePM, ","))
	diff("node", st.Node, e.Node)
	diff("nodeIP", st.UnderlayIP, e.NodeIP)
	return out
}

func labelsString(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// CheckStorePeers compares the node records in the store (every key under
// cluster.NodesPrefix) with the peers overlayd programs: one peer per
// other node whose record has an underlay and a VTEP address, with that
// record's addresses, MAC and subnets. A difference means overlayd's
// view of the store is stale.
func CheckStorePeers(st api.Status, nodes []KV, peers []api.Peer, etcdctl Etcdctl) Check {
	byName := map[string]api.Peer{}
	for _, p := range peers {
		byName[p.Name] = p
	}
	var fs []Finding
	compared := 0
	for _, kv := range nodes {
		n, ok := cluster.DecodeNode(cluster.KV{Key: kv.Key, Value: kv.Value})
		if !ok || n.Name == st.Node {
			continue
		}
		vtep, err1 := netip.ParseAddr(n.VTEPIP)
		_, err2 := netip.ParseAddr(n.UnderlayIP)
		if err1 != nil || err2 != nil {
			continue // a node still starting: overlayd skips it too
		}
		cmd := etcdctl.get(kv.Key)
		if n.VTEPIP == st.VTEP.IP {
			fs = append(fs, Finding{Kind: Wrong, Object: kv.Key + " vtepIP", Want: "not " + st.VTEP.IP + " (this node's)", Have: n.VTEPIP,
				Detail: "two nodes hold one VTEP address", Command: cmd})
			continue
		}
		compared++
		p, ok := byName[n.Name]
		delete(byName, n.Name)
		if !ok {
			fs = append(fs, Finding{Kind: Missing, Object: "peer " + n.Name, Want: "the node record " + kv.Key,
				Detail: "overlayd has not seen this node", Command: "dcnetctl peers"})
			continue
		}
		mac := n.VTEPMAC
		if _, err := net.ParseMAC(mac); err != nil {
			mac = datapath.VTEPMAC(vtep).String()
		}
		var subnets []string
		for _, ss := range n.Subnets {
			subnets = append(subnets, ss...)
		}
		for _, d := range [][3]string{
			{"underlay", n.UnderlayIP, p.UnderlayIP}, {"vtep", n.VTEPIP, p.VTEPIP}, {"vtep6", n.VTEPIP6, p.VTEPIP6},
			{"mac", mac, p.VTEPMAC}, {"subnets", sortedJoin(subnets), sortedJoin(p.Subnets)},
		} {
			if d[1] != d[2] {
				fs = append(fs, Finding{Kind: Wrong, Object: "peer " + n.Name + " " + d[0], Want: orNone(d[1]) + " (store)", Have: orNone(d[2]) + " (overlayd)",
					Detail: "overlayd's copy of the node record is stale", Command: "dcnetctl peers; " + cmd})
			}
		}
	}
	for _, p := range peers {
		if _, left := byName[p.Name]; left {
			fs = append(fs, Finding{Kind: Extra, Object: "peer " + p.Name, Detail: "overlayd programs a node the store has no record of",
				Command: "dcnetctl peers; " + etcdctl.prefix(cluster.NodesPrefix)})
		}
	}
	return newCheck(Overlayd, "peers vs node records", compared, fs)
}

func sortedJoin(ss []string) string {
	return strings.Join(slices.Sorted(slices.Values(ss)), ",")
}
