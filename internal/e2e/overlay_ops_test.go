package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

// repairBound is the reconcile interval of dualConfig plus slack.
const repairBound = 2500 * time.Millisecond

// TestPrivilegedOverlayHandDamage: each kind of hand damage on vtep1024 is
// repaired within the reconcile interval and traffic flows again.
func TestPrivilegedOverlayHandDamage(t *testing.T) {
	_, nodes, _, _ := agents(t, "edmg", 2, dualConfig)
	a, b := attach(t, nodes[0], "c"), attach(t, nodes[1], "c")
	ps, err := nodes[0].client.Peers(context.Background())
	if err != nil || len(ps) != 1 {
		t.Fatalf("peers: %v %v", ps, err)
	}
	p := ps[0]
	n := nodes[0]
	for _, dmg := range []struct {
		name  string
		cmd   []string
		check []string // must show the repaired object again
		want  string
	}{
		{"neighbour deleted", []string{"ip", "neigh", "del", p.VTEPIP, "dev", "vtep1024"}, []string{"ip", "neigh", "show", "dev", "vtep1024"}, p.VTEPIP + " lladdr " + p.VTEPMAC},
		{"fdb entry deleted", []string{"bridge", "fdb", "del", p.VTEPMAC, "dev", "vtep1024", "dst", p.UnderlayIP, "self"}, []string{"bridge", "fdb", "show", "dev", "vtep1024"}, p.VTEPMAC + " dst " + p.UnderlayIP},
		{"route deleted", []string{"ip", "route", "del", p.Subnets[0]}, []string{"ip", "route", "show", "dev", "vtep1024"}, p.Subnets[0] + " via " + p.VTEPIP},
		{"vtep1024 deleted", []string{"ip", "link", "del", "vtep1024"}, []string{"ip", "route", "show", "dev", "vtep1024"}, p.Subnets[0] + " via " + p.VTEPIP},
	} {
		if out, err := n.Run(context.Background(), dmg.cmd...); err != nil {
			t.Fatalf("%s: %v %s", dmg.name, err, out)
		}
		start := time.Now()
		err := netsim.WaitFor(context.Background(), repairBound, 50*time.Millisecond, func() error {
			out, _ := n.Run(context.Background(), dmg.check...)
			if !strings.Contains(out, dmg.want) {
				return fmt.Errorf("%q not in:\n%s", dmg.want, out)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: not repaired within %s: %v", dmg.name, repairBound, err)
		}
		if err := ping(a.Namespace, b.ip4); err != nil {
			t.Fatalf("%s: repaired in %s but no traffic: %v", dmg.name, time.Since(start), err)
		}
		t.Logf("%s: repaired in %s", dmg.name, time.Since(start).Round(10*time.Millisecond))
	}
}

// TestPrivilegedOverlayRestartNoBlink: restarting overlayd on a busy node
// deletes no neighbour, FDB entry or route (ip monitor sees no "Deleted"),
// and traffic does not stop.
func TestPrivilegedOverlayRestartNoBlink(t *testing.T) {
	_, nodes, _, _ := agents(t, "eblink", 3, dualConfig)
	a, b := attach(t, nodes[0], "c"), attach(t, nodes[1], "c")
	n := nodes[0]
	logDir := t.TempDir()
	mon := netsim.StartProcessT(t, n.Node, filepath.Join(logDir, "ip-monitor.log"), "ip", "monitor", "neigh", "route", "link")
	fdb := netsim.StartProcessT(t, n.Node, filepath.Join(logDir, "bridge-monitor.log"), "bridge", "monitor", "fdb")
	time.Sleep(200 * time.Millisecond)
	if err := n.od.Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ping(a.Namespace, b.ip4); err != nil {
		t.Fatalf("overlayd stopped: %v", err)
	}
	n.start()
	waitPeers(t, nodes, 5*time.Second)
	time.Sleep(1500 * time.Millisecond) // a full reconcile after the restart
	if err := ping(a.Namespace, b.ip4); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	mon.Stop()
	fdb.Stop()
	for _, f := range []string{"ip-monitor.log", "bridge-monitor.log"} {
		data, _ := os.ReadFile(filepath.Join(logDir, f))
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "Deleted") && strings.Contains(line, "vtep1024") {
				t.Errorf("restart deleted kernel state (%s): %s", f, line)
			}
		}
	}
}

// TestPrivilegedNodeRemove: `dcnetctl node remove` of a stopped node frees
// its subnets and every other node forgets it within a second.
func TestPrivilegedNodeRemove(t *testing.T) {
	_, nodes, _, _ := agents(t, "erm", 3, dualConfig)
	gone := nodes[2]
	if err := gone.od.Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	ps, _ := nodes[0].client.Peers(context.Background())
	var goneSubnet string
	for _, p := range ps {
		if p.Name == gone.Name {
			goneSubnet = p.Subnets[0]
		}
	}
	out, err := nodes[0].Run(context.Background(), bin("dcnetctl"), "--socket", nodes[0].socket, "node", "remove", gone.Name)
	if err != nil {
		t.Fatalf("node remove: %v %s", err, out)
	}
	start := time.Now()
	for _, nd := range nodes[:2] {
		err := netsim.WaitFor(context.Background(), time.Second, 10*time.Millisecond, func() error {
			out, _ := nd.Run(context.Background(), "ip", "route", "show", "dev", "vtep1024")
			if strings.Contains(out, goneSubnet) {
				return fmt.Errorf("%s still routes %s", nd.Name, goneSubnet)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("removed node forgotten everywhere in %s", time.Since(start).Round(time.Millisecond))
	ns, _ := nodes[0].client.Nodes(context.Background())
	for _, n := range ns {
		if n.Name == gone.Name {
			t.Fatalf("node record still there: %+v", n)
		}
	}
}

// TestPrivilegedEtcdOutage: with one of three etcd members dead, ADD works
// on every node; with all dead, traffic flows and ADD works from the leased
// subnet; when etcd returns, every node's records are in the store.
func TestPrivilegedEtcdOutage(t *testing.T) {
	netsim.Privileged(t, "ping", "iptables", "etcd", "etcdctl")
	f := netsim.NewFabric(t, "eetcd")
	members, endpoints := startEtcd(t, f, 3)
	var nodes []*node
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, startNode(t, f, fmt.Sprintf("a%d", i), dualConfig, "--etcd-endpoints", endpoints))
	}
	waitPeers(t, nodes, 10*time.Second)
	a := attach(t, nodes[0], "c0")
	b := attach(t, nodes[1], "c0")

	if err := members[0].Proc.Kill9(); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		attach(t, nd, "c1")
	}
	for _, m := range members[1:] {
		if err := m.Proc.Kill9(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ping(a.Namespace, b.ip4); err != nil {
		t.Fatalf("etcd down: existing traffic stopped: %v", err)
	}
	c2 := attach(t, nodes[2], "c2")
	if err := ping(c2.Namespace, a.ip4); err != nil {
		t.Fatalf("etcd down: new container cannot reach the overlay: %v", err)
	}
	for _, m := range members {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Every node's records reach the store: a1 and a2 two each (c0, c1), a3 two (c1, c2).
	err := netsim.WaitFor(context.Background(), 30*time.Second, 100*time.Millisecond, func() error {
		for _, nd := range nodes {
			st, err := nd.client.Status(context.Background())
			if err != nil || !st.StoreOK || st.PendingPublish != 0 {
				return fmt.Errorf("%s: %+v %v", nd.Name, st, err)
			}
			eps, err := nd.client.Endpoints(context.Background())
			if err != nil || len(eps) != 6 {
				var seen []string
				for _, e := range eps {
					seen = append(seen, e.Node+"/"+e.ContainerID)
				}
				return fmt.Errorf("%s sees %d endpoints %v (%v)", nd.Name, len(eps), seen, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after etcd returned: %v", err)
	}
}
