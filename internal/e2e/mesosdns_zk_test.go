package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/fixtures"
	"github.com/dcnet/dcnet/internal/mesostest"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/internal/zktest"
)

// zkRefresh is the Mesos-DNS refresh of the ZooKeeper test: a leader
// change must show within one.
const zkRefresh = 3 * time.Second

// setLeader makes the fake master's state name leader (a PID) as the
// elected master.
func (m *fakeMesosMaster) setLeader(leader string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state["leader"] = leader
	m.srv.Set(m.bodyLocked())
}

// TestPrivilegedMesosDNSZooKeeper: dcnet-dns --mode mesos-dns with a
// Mesos-DNS config.json naming ZooKeeper ("zk") finds the leading master
// from the znodes the masters hold there (a real ZooKeeper in a namespace,
// json.info_ nodes as Mesos writes them), polls it and answers
// leader.mesos and masterN in ZooKeeper's order; when the leader's
// session ends and the other master takes over, Mesos-DNS follows within
// one refresh.
func TestPrivilegedMesosDNSZooKeeper(t *testing.T) {
	netsim.Privileged(t, "dig", "java")
	zktest.Require(t)
	fixture := filepath.Join(fixtures.Dir(t, "mesos"), "master-state.json")
	f := netsim.NewFabric(t, "dnsdropzke")
	nodes := addNodes(t, f, "zk", "m1", "m2", "dns")
	zkNode, m1, m2, dnsNode := nodes[0], nodes[1], nodes[2], nodes[3]
	srv := zktest.Start(t, zkNode)
	pid := func(n *netsim.Node) string {
		return "master@" + net.JoinHostPort(n.UnderlayIP.String(), mesostest.Port)
	}
	addr := func(n *netsim.Node) string { return net.JoinHostPort(n.UnderlayIP.String(), mesostest.Port) }
	fake1, fake2 := startFakeMesosMaster(t, m1, fixture), startFakeMesosMaster(t, m2, fixture)
	fake2.setLeader(pid(m1)) // m2 is a follower

	s1, s2 := srv.Connect(t), srv.Connect(t) // each master's ZooKeeper session
	if _, err := zktest.Contend(s1, "/mesos", zktest.Master(m1.UnderlayIP.String(), 5050)); err != nil {
		t.Fatal(err)
	}
	if _, err := zktest.Contend(s2, "/mesos", zktest.Master(m2.UnderlayIP.String(), 5050)); err != nil {
		t.Fatal(err)
	}

	// The configured masters list the follower only: the leader and the
	// masterN order must come from ZooKeeper.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	doc := fmt.Sprintf(`{"zk": "zk://%s/mesos", "masters": [%q], "refreshSeconds": %d, "port": 61053, "listener": %q,
		"httpon": false, "externalon": false, "IPSources": ["host", "netinfo"]}`,
		srv.Addr, addr(m2), int(zkRefresh.Seconds()), dnsNode.UnderlayIP)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "mesos-dns.log")
	netsim.StartProcessT(t, dnsNode, log, bin("dcnet-dns"), "--mode", "mesos-dns", "--config", cfg, "--mesos-subscribe=false")
	dnsIP := dnsNode.UnderlayIP.String()
	waitAnswer(t, dnsNode, dnsIP, "61053", "A", "leader.mesos", []string{m1.UnderlayIP.String()}, mesosDNSWait, log)
	waitAnswer(t, dnsNode, dnsIP, "61053", "A", "master0.mesos", []string{m1.UnderlayIP.String()}, mesosDNSWait, log)
	waitAnswer(t, dnsNode, dnsIP, "61053", "A", "master1.mesos", []string{m2.UnderlayIP.String()}, mesosDNSWait, log)
	waitAnswer(t, dnsNode, dnsIP, "61053", "A", "ns1.mesos", []string{dnsIP}, mesosDNSWait, log)

	// m1 dies: its session and znode go, m2 is elected and says so.
	fake1.setLeader(pid(m2))
	fake2.setLeader(pid(m2))
	s1.Close()
	took := waitAnswer(t, dnsNode, dnsIP, "61053", "A", "leader.mesos", []string{m2.UnderlayIP.String()}, zkRefresh, log)
	t.Logf("leader.mesos followed the ZooKeeper leader change in %v (refresh %v)", took.Round(time.Millisecond), zkRefresh)
	waitAnswer(t, dnsNode, dnsIP, "61053", "A", "master0.mesos", []string{m2.UnderlayIP.String()}, zkRefresh, log)
}
