package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
)

// startEtcd starts an n-member etcd cluster (Debian's etcd-server) on
// masters m1..mn and waits until it takes a write. It returns the members
// and the client endpoints.
func startEtcd(t *testing.T, f *netsim.Fabric, n int) ([]*clustersim.EtcdMember, string) {
	t.Helper()
	netsim.RequireCommands(t, "etcd")
	var masters []*netsim.Node
	for i := 1; i <= n; i++ {
		nd, err := f.AddNode(fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		masters = append(masters, nd)
	}
	e, err := clustersim.StartEtcd(context.Background(), clustersim.ForTest(t), clustersim.EtcdOptions{Nodes: masters, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("etcd cluster: %v", err)
	}
	return e.Members, e.Endpoints()
}
