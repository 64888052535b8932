package doctor

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/overlayd/api"
)

const testLease = 0x694d9a0b1c2d3e4f

func jsonOf(v any) []byte { b, _ := json.Marshal(v); return b }

func healthyNode() cluster.Node {
	return cluster.Node{Name: "a2", UnderlayIP: "198.18.0.3", VTEPIP: "44.128.0.2", VTEPIP6: "fd01:a::2", VTEPMAC: "70:b3:d5:80:00:02",
		Subnets: map[string][]string{"dcos": {"9.0.2.0/24", "fd01:b::1:0:0:0/80"}}}
}

// healthyStore is the store of the healthy node: its and a1's node
// records, its leases, liveness and endpoint record.
func healthyStore() *FakeStore {
	s := &FakeStore{}
	s.Put(cluster.NodeKey("a2"), string(jsonOf(healthyNode())), 0)
	s.Put(cluster.NodeKey("a1"), string(jsonOf(cluster.Node{Name: "a1", UnderlayIP: "198.18.0.2", VTEPIP: "44.128.0.1", VTEPIP6: "fd01:a::1",
		VTEPMAC: "70:b3:d5:80:00:01", Subnets: map[string][]string{"dcos": {"9.0.1.0/24", "fd01:b::/80"}}})), 0)
	for _, k := range LeaseKeys(healthyStatus()) {
		s.Put(k, string(jsonOf(cluster.SubnetLease{Node: "a2"})), 0)
	}
	s.Put(cluster.AliveKey("a2"), string(jsonOf(cluster.Alive{Node: "a2", UnderlayIP: "198.18.0.3"})), testLease)
	s.Put(cluster.EndpointKey("a2", "dcos", "c1", "eth0"), string(jsonOf(cluster.Endpoint{Network: "dcos", ContainerID: "c1", IfName: "eth0",
		IPs:    []cluster.EndpointIP{{Address: "9.0.2.2/24", Gateway: "9.0.2.1"}, {Address: "fd01:b::1:0:0:2/80", Gateway: "fd01:b::1:0:0:1"}},
		Labels: map[string]string{"VIP_0": "/web:80"}, Runtime: "cni", Node: "a2", NodeIP: "198.18.0.3",
		PortMappings: []cluster.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}})), testLease)
	return s
}

func (s *FakeStore) ptr(key string) *KV {
	if kv, ok := s.KVs[key]; ok {
		return &kv
	}
	return nil
}

func TestLeaseKeys(t *testing.T) {
	got := LeaseKeys(healthyStatus())
	want := []string{cluster.SubnetKey("dcos", netip.MustParsePrefix("9.0.2.0/24")), cluster.SubnetKey("dcos", netip.MustParsePrefix("fd01:b::1:0:0:0/80")),
		"/dcnet/v1/vteps/44.128.0.2-32", "/dcnet/v1/vteps6/fd01:a::2-128"}
	if len(got) != len(want) {
		t.Fatalf("LeaseKeys = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("LeaseKeys[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestCheckStoreRecords(t *testing.T) {
	nodeKey, aliveKey := cluster.NodeKey("a2"), cluster.AliveKey("a2")
	epKey := cluster.EndpointKey("a2", "dcos", "c1", "eth0")
	vtepKey := "/dcnet/v1/vteps/44.128.0.2-32"
	for _, tc := range []struct {
		name   string
		change func(*FakeStore, *api.Status, *[]api.Attachment)
		check  func(*FakeStore, api.Status, []api.Attachment) Check
		want   []string
	}{
		{"node record", func(*FakeStore, *api.Status, *[]api.Attachment) {}, nodeCheck, nil},
		{"node record deleted", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) { delete(s.KVs, nodeKey) }, nodeCheck,
			[]string{"missing " + nodeKey}},
		{"node record stale", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) {
			n := healthyNode()
			n.UnderlayIP, n.Subnets = "198.18.0.9", map[string][]string{"dcos": {"9.0.2.0/24"}}
			s.Put(nodeKey, string(jsonOf(n)), 0)
		}, nodeCheck, []string{"wrong " + nodeKey + " underlayIP", "wrong " + nodeKey + " subnets of dcos"}},
		{"node record garbage", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) { s.Put(nodeKey, "{", 0) }, nodeCheck,
			[]string{"wrong " + nodeKey}},
		{"leases", func(*FakeStore, *api.Status, *[]api.Attachment) {}, leaseCheck, nil},
		{"vtep lease of another node", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) {
			s.Put(vtepKey, string(jsonOf(cluster.SubnetLease{Node: "a3"})), 0)
		}, leaseCheck, []string{"wrong " + vtepKey}},
		{"vtep lease gone", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) { delete(s.KVs, vtepKey) }, leaseCheck,
			[]string{"missing " + vtepKey}},
		{"liveness", func(*FakeStore, *api.Status, *[]api.Attachment) {}, aliveCheck, nil},
		{"liveness deleted", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) { delete(s.KVs, aliveKey) }, aliveCheck,
			[]string{"missing " + aliveKey}},
		{"liveness without lease, other node", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) {
			s.Put(aliveKey, string(jsonOf(cluster.Alive{Node: "a3"})), 0)
		}, aliveCheck, []string{"wrong " + aliveKey, "wrong " + aliveKey + " node"}},
		{"endpoints", func(*FakeStore, *api.Status, *[]api.Attachment) {}, endpointCheck, nil},
		{"endpoint record deleted", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) { delete(s.KVs, epKey) }, endpointCheck,
			[]string{"missing " + epKey}},
		{"endpoint record of a released attachment", func(_ *FakeStore, _ *api.Status, as *[]api.Attachment) { *as = nil }, endpointCheck,
			[]string{"extra " + epKey}},
		{"endpoint record with old labels, another lease", func(s *FakeStore, _ *api.Status, as *[]api.Attachment) {
			(*as)[0].Labels = map[string]string{"VIP_0": "/web:8080"}
			kv := s.KVs[epKey]
			kv.Lease = 7
			s.KVs[epKey] = kv
		}, endpointCheck, []string{"wrong " + epKey + " labels", "wrong " + epKey + " lease"}},
		{"peers vs node records", func(*FakeStore, *api.Status, *[]api.Attachment) {}, peersCheck, nil},
		{"a node overlayd has not seen", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) {
			s.Put(cluster.NodeKey("a3"), string(jsonOf(cluster.Node{Name: "a3", UnderlayIP: "198.18.0.4", VTEPIP: "44.128.0.3"})), 0)
			s.Put(cluster.NodeKey("a4"), string(jsonOf(cluster.Node{Name: "a4"})), 0) // still starting: skipped
		}, peersCheck, []string{"missing peer a3"}},
		{"a stale copy of a1's record", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) {
			s.Put(cluster.NodeKey("a1"), string(jsonOf(cluster.Node{Name: "a1", UnderlayIP: "198.18.0.12", VTEPIP: "44.128.0.1", VTEPIP6: "fd01:a::1",
				Subnets: map[string][]string{"dcos": {"9.0.1.0/24", "fd01:b::/80"}}})), 0)
		}, peersCheck, []string{"wrong peer a1 underlay"}},
		{"a peer the store forgot", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) { delete(s.KVs, cluster.NodeKey("a1")) }, peersCheck,
			[]string{"extra peer a1"}},
		{"double VTEP", func(s *FakeStore, _ *api.Status, _ *[]api.Attachment) {
			s.Put(cluster.NodeKey("a5"), string(jsonOf(cluster.Node{Name: "a5", UnderlayIP: "198.18.0.6", VTEPIP: "44.128.0.2"})), 0)
		}, peersCheck, []string{"wrong /dcnet/v1/nodes/a5 vtepIP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, atts := healthyStore(), healthyStatus(), healthyAttachments()
			tc.change(s, &st, &atts)
			wantLines(t, tc.check(s, st, atts), tc.want...)
		})
	}
}

func nodeCheck(s *FakeStore, st api.Status, _ []api.Attachment) Check {
	return CheckNodeRecord(st, s.ptr(cluster.NodeKey(st.Node)), "etcdctl")
}

func leaseCheck(s *FakeStore, st api.Status, _ []api.Attachment) Check {
	got := map[string]KV{}
	for _, k := range LeaseKeys(st) {
		if kv := s.ptr(k); kv != nil {
			got[k] = *kv
		}
	}
	return CheckLeases(st, got, "etcdctl")
}

func aliveCheck(s *FakeStore, st api.Status, _ []api.Attachment) Check {
	return CheckLiveness(st, s.ptr(cluster.AliveKey(st.Node)), "etcdctl")
}

func endpointCheck(s *FakeStore, st api.Status, atts []api.Attachment) Check {
	recs, _ := s.List(context.Background(), cluster.NodeEndpointsPrefix(st.Node))
	return CheckEndpoints(st, atts, recs, testLease, "etcdctl")
}

func peersCheck(s *FakeStore, st api.Status, _ []api.Attachment) Check {
	nodes, _ := s.List(context.Background(), cluster.NodesPrefix)
	return CheckStorePeers(st, nodes, healthyPeers(), "etcdctl")
}
