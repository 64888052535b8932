package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

// etcdctl runs one etcdctl command inside node against endpoints.
func etcdctl(node *netsim.Node, endpoints string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := node.Run(ctx, append([]string{"etcdctl", "--endpoints", endpoints, "--command-timeout", "2s"}, args...)...)
	if err != nil {
		return fmt.Errorf("etcdctl %v: %v: %s", args, err, out)
	}
	return nil
}

// etcdMember is one member of a real etcd cluster (Debian's etcd-server)
// running in a master netns.
type etcdMember struct {
	node    *netsim.Node
	name    string
	dataDir string
	argv    []string
	proc    *netsim.Process
	t       *testing.T
}

func (m *etcdMember) clientURL() string { return fmt.Sprintf("http://%s:2379", m.node.UnderlayIP) }

func (m *etcdMember) start() {
	m.t.Helper()
	log := filepath.Join(m.dataDir, fmt.Sprintf("etcd-%d.log", time.Now().UnixNano()))
	m.proc = netsim.StartProcessT(m.t, m.node, log, m.argv...)
}

// startEtcd starts an n-member etcd cluster on masters m1..mn and waits
// until it has a leader. It returns the members and the client endpoints.
func startEtcd(t *testing.T, f *netsim.Fabric, n int) ([]*etcdMember, string) {
	t.Helper()
	netsim.RequireCommands(t, "etcd")
	var members []*etcdMember
	var peers, clients []string
	for i := 1; i <= n; i++ {
		nd, err := f.AddNode(fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		m := &etcdMember{node: nd, name: fmt.Sprintf("m%d", i), dataDir: t.TempDir(), t: t}
		members = append(members, m)
		peers = append(peers, fmt.Sprintf("%s=http://%s:2380", m.name, nd.UnderlayIP))
		clients = append(clients, m.clientURL())
	}
	for _, m := range members {
		ip := m.node.UnderlayIP.String()
		m.argv = []string{"etcd", "--name", m.name, "--data-dir", filepath.Join(m.dataDir, "data"),
			"--listen-client-urls", fmt.Sprintf("http://%s:2379,http://127.0.0.1:2379", ip),
			"--advertise-client-urls", m.clientURL(),
			"--listen-peer-urls", fmt.Sprintf("http://%s:2380", ip),
			"--initial-advertise-peer-urls", fmt.Sprintf("http://%s:2380", ip),
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "dcnet-e2e", "--heartbeat-interval", "100", "--election-timeout", "1000",
			"--log-level", "warn"}
		m.start()
	}
	endpoints := strings.Join(clients, ",")
	// The test process lives in the host namespace, which has no route to
	// the underlay: ask etcdctl inside a master.
	err := netsim.WaitFor(context.Background(), 30*time.Second, 100*time.Millisecond, func() error {
		return etcdctl(members[0].node, endpoints, "put", "/dcnet-e2e/ready", "1")
	})
	if err != nil {
		t.Fatalf("etcd cluster not ready: %v", err)
	}
	return members, endpoints
}
