package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedTwentyNodesAtOnce: 20 overlayd started at the same moment
// against one etcd get 20 distinct subnets and VTEP addresses, and every
// node programs the 19 others.
func TestPrivilegedTwentyNodesAtOnce(t *testing.T) {
	netsim.Privileged(t, "iptables", "etcd", "etcdctl")
	f := netsim.NewFabric(t, "e20")
	_, endpoints := startEtcd(t, f, 1)
	const n = 20
	nodes := make([]*node, n)
	var wg sync.WaitGroup
	for i := range nodes {
		nd, err := f.AddNode(fmt.Sprintf("n%d", i))
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = prepareNode(t, nd, `{"overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24}]}`, "--etcd-endpoints", endpoints)
	}
	start := time.Now()
	for _, nd := range nodes {
		wg.Add(1)
		go func(nd *node) {
			defer wg.Done()
			nd.launch()
		}(nd)
	}
	wg.Wait()
	for _, nd := range nodes {
		nd.waitReady()
	}
	t.Logf("20 nodes ready in %s", time.Since(start).Round(time.Millisecond))
	ns, err := nodes[0].client.Nodes(context.Background())
	if err != nil || len(ns) != n {
		t.Fatalf("%d nodes in the store (%v)", len(ns), err)
	}
	subnets, vteps := map[string]string{}, map[string]string{}
	for _, x := range ns {
		s := x.Subnets["dcos"][0]
		if other, dup := subnets[s]; dup {
			t.Fatalf("subnet %s held by %s and %s", s, other, x.Name)
		}
		subnets[s] = x.Name
		if other, dup := vteps[x.VTEPIP]; dup {
			t.Fatalf("vtep %s held by %s and %s", x.VTEPIP, other, x.Name)
		}
		vteps[x.VTEPIP] = x.Name
	}
	waitPeers(t, nodes, 10*time.Second)
}
