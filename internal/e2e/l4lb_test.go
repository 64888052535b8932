package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/mesos"
)

const (
	l4lbHTTP    = "127.0.0.1:62083"
	webDNSName  = "web.marathon.l4lb.thisdcos.directory"
	l4lbDialMax = 3 * time.Second
)

// l4lbVIP is the part of a VIP of /v1/dcnet/vips the test reads.
type l4lbVIP struct {
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Name     string `json:"name"`
	Address  string `json:"address"`
	Backends []struct {
		IP       string `json:"ip"`
		Active   bool   `json:"active"`
		Draining bool   `json:"draining"`
	} `json:"backend"`
}

// attachWeb attaches a container with VIP_0=/web:80 and serves its name on :80.
func attachWeb(t *testing.T, nd *node, name string) attached {
	t.Helper()
	nd.writeConf("20-web.conflist", fmt.Sprintf(`{"cniVersion":"1.1.0","name":"web","plugins":[{"type":"dcnet","network":"dcos","socket":%q,
	  "args":{"labels":[{"key":"VIP_0","value":"/web:80"}]}}]}`, nd.socket))
	a := nd.cniAdd(nd.container(name), "web")
	netsim.ServeName(t, a.Namespace, ":80", name)
	return a
}

// vips reads the VIPs of the node's dcnet-l4lb (/v1/dcnet/vips).
func vips(nd *node) ([]l4lbVIP, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := nd.Run(ctx, "curl", "-sSf", "http://"+l4lbHTTP+l4lbapi.PathDetails)
	if err != nil {
		return nil, fmt.Errorf("curl %s on %s: %v: %s", l4lbapi.PathDetails, nd.Name, err, out)
	}
	var det struct {
		VIPs []l4lbVIP `json:"vips"`
	}
	if err := json.Unmarshal([]byte(out), &det); err != nil {
		return nil, fmt.Errorf("%s on %s: %v: %s", l4lbapi.PathDetails, nd.Name, err, out)
	}
	return det.VIPs, nil
}

// waitWebVIP waits until nd programs the web VIP of family is4 with n
// active backends and returns its address.
func waitWebVIP(t *testing.T, nd *node, is4 bool, n int) string {
	t.Helper()
	var addr string
	err := netsim.WaitFor(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
		vs, err := vips(nd)
		if err != nil {
			return err
		}
		for _, v := range vs {
			a, err := netip.ParseAddr(v.Address)
			if err != nil || v.Name != webDNSName || v.Protocol != "tcp" || v.Port != 80 || a.Is4() != is4 {
				continue
			}
			active := 0
			for _, b := range v.Backends {
				if b.Active {
					active++
				}
			}
			if active != n {
				return fmt.Errorf("%s has %d active backends, want %d: %+v", v.Address, active, n, v)
			}
			addr = v.Address
			return nil
		}
		return fmt.Errorf("no %s VIP (v4 %t) on %s: %+v", webDNSName, is4, nd.Name, vs)
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestPrivilegedL4LBNamedVIP: dcnet-l4lb on two nodes; three backends of
// /web:80 on one node; a client on the other reaches all three through the
// named VIP's allocated addresses (IPv4 and IPv6), the VIP is in the node's
// nft table, the name record is published, and a deleted table is rebuilt
// by the periodic sync.
func TestPrivilegedL4LBNamedVIP(t *testing.T) {
	netsim.RequireCommands(t, "curl", "nft")
	_, nodes, members, endpoints := agents(t, "el4", 2, dualConfig)
	l4lb := bin("dcnet-l4lb")
	for _, nd := range nodes {
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), l4lb, "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s", "--log-level", "debug")
	}
	names := []string{"web1", "web2", "web3"}
	for _, name := range names {
		attachWeb(t, nodes[0], name)
	}
	client := attach(t, nodes[1], "client")

	for _, tc := range []struct {
		family string
		is4    bool
		conns  int
	}{{"ipv4", true, 150}, {"ipv6", false, 60}} {
		t.Run(tc.family, func(t *testing.T) {
			addr := waitWebVIP(t, nodes[1], tc.is4, len(names))
			counts, err := netsim.DialCount(client.Namespace, tc.conns, net.JoinHostPort(addr, "80"), l4lbDialMax)
			if err != nil {
				t.Fatalf("connections to %s: %v (so far %v)", addr, err, counts)
			}
			for _, name := range names {
				if counts[name] == 0 {
					t.Errorf("backend %s never answered on %s: %v", name, addr, counts)
				}
			}
			t.Logf("%s: %v", addr, counts)
			fam := "ip"
			if !tc.is4 {
				fam = "ip6"
			}
			out, err := nodes[1].Run(context.Background(), "nft", "list", "table", fam, "dcnet-l4lb")
			if err != nil || !strings.Contains(out, addr+" . tcp . 80") {
				t.Errorf("nft list table %s dcnet-l4lb on %s lacks %s (%v):\n%s", fam, nodes[1].Name, addr, err, out)
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := members[0].Node.Run(ctx, "etcdctl", "--endpoints", endpoints, "get", "--print-value-only", cluster.VIPNamesPrefix+webDNSName)
	if err != nil || !strings.Contains(out, `"name":"`+webDNSName+`"`) {
		t.Errorf("vip name record: %v: %s", err, out)
	}

	// Hand damage: the periodic sync rebuilds a deleted table.
	if out, err := nodes[1].Run(context.Background(), "nft", "delete", "table", "ip", "dcnet-l4lb"); err != nil {
		t.Fatalf("nft delete table: %v: %s", err, out)
	}
	err = netsim.WaitFor(context.Background(), 10*time.Second, 100*time.Millisecond, func() error {
		out, err := nodes[1].Run(context.Background(), "nft", "list", "table", "ip", "dcnet-l4lb")
		if err != nil || !strings.Contains(out, " . tcp . 80") {
			return fmt.Errorf("table not repaired: %v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// Cluster test constants.
const (
	// clusterConfig is dualConfig with the shortest liveness lease overlayd
	// accepts, so a killed node's records expire quickly.
	clusterConfig = `{"overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24,"subnet6":"fd01:b::/64","prefix6":80}],"reconcileInterval":"1s","leaseTTL":"2s"}`
	ipVIP4        = "10.200.0.80"
	ipVIP6        = "fd01:e::80"
	echoDNSName   = "echo.marathon.l4lb.thisdcos.directory"
	echoPort      = 5353
	echoHostPort  = 20000 // + backend number
	// spreadConns new connections per client and VIP.
	spreadConns = 500
	// hairpinConns is the number of connections each backend opens to its own VIP.
	hairpinConns = 25
	// spreadTolerance is the allowed deviation from an even share.
	spreadTolerance = 0.20
	// leaseGoneBound: after a node's liveness key disappears, every other
	// node must stop choosing its backends within this time.
	leaseGoneBound = 2 * time.Second
	namePollEvery  = 50 * time.Millisecond
	// releaseGrace is dcnet-l4lb's --vip-release-grace in the cluster test.
	releaseGrace = 3 * time.Second
)

// backend is one container serving the cluster test's VIPs.
type backend struct {
	attached
	name     string
	node     *node
	hostPort int
}

// attachBackend attaches a container labelled with a named VIP (/web:80),
// an IPv4 and an IPv6 IP VIP on port 80 and a UDP named VIP (/echo:5353,
// whose port the record maps to hostPort on the node), serves its name on
// TCP :80 and UDP :5353 in the container: the backend of a mapped port is
// the container's overlay address, reachable from every node.
func attachBackend(t *testing.T, nd *node, name string, hostPort int) backend {
	t.Helper()
	nd.writeConf("30-"+name+".conflist", fmt.Sprintf(`{"cniVersion":"1.1.0","name":"be-%s","plugins":[{"type":"dcnet","network":"dcos","socket":%q,
	  "args":{"labels":[{"key":"VIP_0","value":"/web:80"},{"key":"VIP_1","value":"%s:80"},{"key":"VIP_2","value":"%s:80"},{"key":"VIP_3","value":"/echo:%d"}],
	  "org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":%d,"container_port":%d,"protocol":"udp"}]}}}}]}`,
		name, nd.socket, ipVIP4, ipVIP6, echoPort, hostPort, echoPort))
	c := nd.container(name)
	// Serve before the endpoint record exists: a backend that refuses
	// would fail the name-before-VIP check for the wrong reason.
	netsim.ServeName(t, c.Namespace, ":80", name)
	netsim.ServeUDPName(t, c.Namespace, ":"+strconv.Itoa(echoPort), name)
	b := backend{attached: nd.cniAdd(c, "be-"+name), name: name, node: nd, hostPort: hostPort}
	return b
}

// dialOnce makes one connection (TCP or UDP) from n to addr and returns
// the backend's answer.
func dialOnce(n netsim.Namespace, proto, addr string) (string, error) {
	var counts map[string]int
	var err error
	if proto == "udp" {
		counts, err = netsim.DialCountUDP(n, 1, addr, l4lbDialMax)
	} else {
		counts, err = netsim.DialCount(n, 1, addr, l4lbDialMax)
	}
	for k := range counts {
		return k, err
	}
	return "", err
}

// nameRecords reads every /dcnet/v1/vipnames record through etcdctl.
func nameRecords(m *netsim.Node, endpoints string) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := m.Run(ctx, "etcdctl", "--endpoints", endpoints, "--command-timeout", "2s", "get", "--prefix", "--print-value-only", cluster.VIPNamesPrefix)
	if err != nil {
		return nil, fmt.Errorf("etcdctl get vipnames: %v: %s", err, out)
	}
	recs := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var r struct {
			Name  string   `json:"name"`
			Addrs []string `json:"addrs"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return nil, fmt.Errorf("vipnames record %q: %v", l, err)
		}
		recs[r.Name] = r.Addrs
	}
	return recs, nil
}

// watchNames polls the name records until every name of want has as many
// addresses as want says (or timeout), and dials every address the moment
// it first appears from every client: a name must never resolve before its
// VIP answers. It returns what went wrong.
func watchNames(t *testing.T, m *netsim.Node, endpoints string, clients []attached, want map[string]int, timeout time.Duration) []string {
	ports := map[string]struct {
		proto string
		port  int
	}{webDNSName: {"tcp", 80}, echoDNSName: {"udp", echoPort}}
	var problems []string
	seen := map[string]bool{}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		recs, err := nameRecords(m, endpoints)
		if err != nil {
			problems = append(problems, err.Error())
			time.Sleep(namePollEvery)
			continue
		}
		done := true
		for name, n := range want {
			if len(recs[name]) < n {
				done = false
			}
		}
		for name, addrs := range recs {
			p, ok := ports[name]
			if !ok {
				problems = append(problems, "unexpected name record "+name)
				continue
			}
			for _, a := range addrs {
				if seen[name+"/"+a] {
					continue
				}
				seen[name+"/"+a] = true
				target := net.JoinHostPort(a, strconv.Itoa(p.port))
				for _, c := range clients {
					if got, err := dialOnce(c.Namespace, p.proto, target); err != nil || got == "" {
						problems = append(problems, fmt.Sprintf("%s resolved to %s but %s %s from %s failed: %q %v",
							name, a, p.proto, target, c.Node.Name, got, err))
					}
				}
			}
		}
		if done {
			t.Logf("checked each name the moment it appeared: %v", slices.Sorted(maps.Keys(seen)))
			return problems
		}
		time.Sleep(namePollEvery)
	}
	return append(problems, fmt.Sprintf("name records incomplete after %v: seen %v, want %v", timeout, seen, want))
}

// checkSpread fails t unless every backend in names got its even share of
// total within spreadTolerance.
func checkSpread(t *testing.T, what string, counts map[string]int, names []string, total int) {
	t.Helper()
	share := float64(total) / float64(len(names))
	for _, n := range names {
		if d := float64(counts[n]) - share; d > share*spreadTolerance || -d > share*spreadTolerance {
			t.Errorf("%s: backend %s got %d of %d connections, want %.0f ± %.0f%%: %v", what, n, counts[n], total, share, spreadTolerance*100, counts)
		}
	}
	for n := range counts {
		if !slices.Contains(names, n) {
			t.Errorf("%s: answer from unexpected backend %q: %v", what, n, counts)
		}
	}
}

// TestPrivilegedL4LBCluster: three nodes with overlayd and dcnet-l4lb, five
// backends spread over them, one client container per node.
//
//   - names: while the backends come up, each VIP name is dialled from every
//     node the moment its record appears, and must answer.
//   - spread: 500 new connections from each client to the named VIP (IPv4
//     and IPv6), to an IPv4 and an IPv6 IP VIP and to a UDP named VIP
//     reach all five backends within ±20 % of an even share, per client.
//   - draining: see testDraining.
//   - metrics: /metrics counts the VIPs and the draining backend.
//   - release: see testRelease.
//   - nodekill: a crashed node's backends stop being chosen by every other
//     node within 2 s of its liveness key expiring.
func TestPrivilegedL4LBCluster(t *testing.T) {
	netsim.RequireCommands(t, "curl", "nft")
	_, nodes, members, endpoints := agents(t, "el5", 3, clusterConfig)
	// nodes[1] runs a Mesos agent (a fake serving GET_STATE).
	agent := startMesosAgent(t, nodes[1])
	l4procs := make([]*netsim.Process, len(nodes))
	for i, nd := range nodes {
		argv := []string{bin("dcnet-l4lb"), "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s", "--log-level", "debug",
			"--vip-release-grace", releaseGrace.String()}
		if i == 1 {
			argv = append(argv, "--mesos-agent", fmt.Sprintf("http://%s", net.JoinHostPort(agent.ip, strconv.Itoa(agentPort))),
				"--mesos-poll-interval", "200ms")
		}
		l4procs[i] = netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), argv...)
	}
	var clients []attached
	for _, nd := range nodes {
		clients = append(clients, attach(t, nd, "client"))
	}
	names := []string{"web1", "web2", "web3", "web4", "web5"}

	// Names: watch the records while the backends come up.
	problems := make(chan []string, 1)
	go func() {
		problems <- watchNames(t, members[0].Node, endpoints, clients, map[string]int{webDNSName: 2, echoDNSName: 1}, 60*time.Second)
	}()
	var backends []backend
	for i, name := range names {
		backends = append(backends, attachBackend(t, nodes[i%len(nodes)], name, echoHostPort+i+1))
	}
	t.Run("names", func(t *testing.T) {
		for _, p := range <-problems {
			t.Error(p)
		}
	})

	webAddrs := map[bool]string{}
	for _, is4 := range []bool{true, false} {
		for _, nd := range nodes {
			webAddrs[is4] = waitWebVIP(t, nd, is4, len(names))
		}
	}
	echoAddr := waitVIP(t, nodes, echoDNSName, "udp", echoPort, len(names))
	t.Run("spread", func(t *testing.T) {
		for _, tc := range []struct {
			name, proto, addr string
		}{
			{"named-ipv4", "tcp", net.JoinHostPort(webAddrs[true], "80")},
			{"named-ipv6", "tcp", net.JoinHostPort(webAddrs[false], "80")},
			{"ip-ipv4", "tcp", net.JoinHostPort(ipVIP4, "80")},
			{"ip-ipv6", "tcp", net.JoinHostPort(ipVIP6, "80")},
			{"udp", "udp", net.JoinHostPort(echoAddr, strconv.Itoa(echoPort))},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, c := range clients {
					var counts map[string]int
					var err error
					if tc.proto == "udp" {
						counts, err = netsim.DialCountUDP(c.Namespace, spreadConns, tc.addr, l4lbDialMax)
					} else {
						counts, err = netsim.DialCount(c.Namespace, spreadConns, tc.addr, l4lbDialMax)
					}
					if err != nil {
						t.Fatalf("%s %s from %s: %v (so far %v)", tc.proto, tc.addr, c.Node.Name, err, counts)
					}
					t.Logf("%s from %s: %v", tc.addr, c.Node.Name, counts)
					// Slots are picked in round robin (numgen inc), so each
					// client's 500 land within ±20 % of an even share.
					checkSpread(t, tc.proto+" "+tc.addr+" from "+c.Node.Name, counts, names, spreadConns)
				}
			})
		}
	})

	// Hairpin: every backend reaches the VIP it serves, itself included
	// (round robin over five slots: 25 connections reach each backend five
	// times), over IPv4 and IPv6.
	t.Run("hairpin", func(t *testing.T) {
		for _, is4 := range []bool{true, false} {
			addr := net.JoinHostPort(webAddrs[is4], "80")
			for _, b := range backends {
				counts, err := netsim.DialCount(b.Namespace, hairpinConns, addr, l4lbDialMax)
				if err != nil {
					t.Fatalf("%s from backend %s: %v (so far %v)", addr, b.name, err, counts)
				}
				if counts[b.name] == 0 {
					t.Errorf("%s from backend %s never reached itself: %v", addr, b.name, counts)
				}
				total := 0
				for _, n := range counts {
					total += n
				}
				if total != hairpinConns {
					t.Errorf("%s from backend %s: %d of %d connections answered: %v", addr, b.name, total, hairpinConns, counts)
				}
			}
		}
	})

	t.Run("draining", func(t *testing.T) { testDraining(t, nodes, agent, clients[0]) })

	t.Run("metrics", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := nodes[0].Run(ctx, "curl", "-sSf", "http://"+l4lbHTTP+"/metrics")
		if err != nil {
			t.Fatalf("curl /metrics on %s: %v: %s", nodes[0].Name, err, out)
		}
		// web, echo, drain and the IP VIP in IPv4; web, echo (its mapped
		// port's backends are the containers' addresses, IPv6 too) and the
		// IP VIP in IPv6; the drained task.
		for _, want := range []string{`dcnet_l4lb_vips{family="ip"} 4`, `dcnet_l4lb_vips{family="ip6"} 3`,
			`dcnet_l4lb_backends{state="draining"} 1`, `dcnet_l4lb_errors_total{stage="kernel"} 0`} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("/metrics of %s lacks %q", nodes[0].Name, want)
			}
		}
		if !strings.Contains(out, "dcnet_l4lb_sync_duration_seconds_count ") || !strings.Contains(out, "dcnet_l4lb_reconcile_repairs_total ") {
			t.Errorf("/metrics of %s lacks the sync histogram or the repairs counter", nodes[0].Name)
		}
		if t.Failed() {
			t.Logf("%s", out)
		}
	})

	t.Run("release", func(t *testing.T) { testRelease(t, nodes, members[0].Node, endpoints, agent) })

	t.Run("nodekill", func(t *testing.T) {
		victim := 0
		var gone, goneIPs []string
		for _, b := range backends {
			if b.node == nodes[victim] {
				gone = append(gone, b.name)
				goneIPs = append(goneIPs, b.ip4)
			}
		}
		for _, p := range []*netsim.Process{l4procs[victim], nodes[victim].od.Proc} {
			if err := p.Kill9(); err != nil {
				t.Fatal(err)
			}
		}
		killed := time.Now()
		var leaseGone time.Time
		err := netsim.WaitFor(context.Background(), 30*time.Second, namePollEvery, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			out, err := members[0].Node.Run(ctx, "etcdctl", "--endpoints", endpoints, "get", "--print-value-only", cluster.AlivePrefix+nodes[victim].Name)
			if err != nil || strings.TrimSpace(out) != "" {
				return fmt.Errorf("alive key of %s still there (%v): %s", nodes[victim].Name, err, out)
			}
			leaseGone = time.Now()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("liveness key of %s gone %v after the kill", nodes[victim].Name, leaseGone.Sub(killed).Round(time.Millisecond))
		for i, nd := range nodes {
			if i == victim {
				continue
			}
			err := netsim.WaitFor(context.Background(), leaseGoneBound-time.Since(leaseGone), 50*time.Millisecond, func() error {
				return webWithout(nd, webAddrs[true], goneIPs)
			})
			if err != nil {
				t.Errorf("%s still lists backends of %s %v after its lease went: %v", nd.Name, nodes[victim].Name, time.Since(leaseGone), err)
				continue
			}
			counts, err := netsim.DialCount(clients[i].Namespace, 100, net.JoinHostPort(webAddrs[true], "80"), l4lbDialMax)
			if err != nil {
				t.Errorf("connections from %s after the kill: %v (%v)", nd.Name, err, counts)
			}
			for _, g := range gone {
				if counts[g] > 0 {
					t.Errorf("%s still chose %s of the dead node %s: %v", nd.Name, g, nodes[victim].Name, counts)
				}
			}
			t.Logf("%s after the kill (%v after the lease went): %v", nd.Name, time.Since(leaseGone).Round(time.Millisecond), counts)
		}
	})
}

// webWithout reports an error while nd's named IPv4 web VIP at addr still
// lists a backend address of gone.
func webWithout(nd *node, addr string, gone []string) error {
	vs, err := vips(nd)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Address != addr || v.Protocol != "tcp" || v.Port != 80 {
			continue
		}
		for _, b := range v.Backends {
			if slices.Contains(gone, b.IP) {
				return fmt.Errorf("%s still lists %s (active %t)", addr, b.IP, b.Active)
			}
		}
		return nil
	}
	return fmt.Errorf("no VIP %s on %s", addr, nd.Name)
}

// waitVIP waits until every node programs the VIP name/proto/port with n
// active backends and returns its (IPv4) address.
func waitVIP(t *testing.T, nodes []*node, name, proto string, port, n int) string {
	t.Helper()
	var addr string
	for _, nd := range nodes {
		err := netsim.WaitFor(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
			vs, err := vips(nd)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if v.Name != name || v.Protocol != proto || v.Port != port {
					continue
				}
				active := 0
				for _, b := range v.Backends {
					if b.Active {
						active++
					}
				}
				if active != n {
					return fmt.Errorf("%s on %s has %d active backends, want %d", name, nd.Name, active, n)
				}
				addr = v.Address
				return nil
			}
			return fmt.Errorf("no %s %s:%d on %s", name, proto, port, nd.Name)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return addr
}

// Draining test constants.
const (
	drainDNSName   = "drain.marathon.l4lb.thisdcos.directory"
	drainPort      = 8080
	agentPort      = 5051
	drainFramework = "e2e-framework-0001"
	drainAgentID   = "e2e-agent-S1"
)

// fakeMesosAgent serves a Mesos agent's Operator API GET_STATE from inside
// a node's netns, with tasks the test changes.
type fakeMesosAgent struct {
	mu    sync.Mutex
	ip    string
	tasks map[string]mesosTask // by task ID
}

// mesosTask is one marathon task with a VIP on a discovery port.
type mesosTask struct {
	ip    string
	state string
}

// startMesosAgent serves GET_STATE on nd's underlay IP:agentPort.
func startMesosAgent(t *testing.T, nd *node) *fakeMesosAgent {
	t.Helper()
	a := &fakeMesosAgent{ip: nd.UnderlayIP.String(), tasks: map[string]mesosTask{}}
	var ln net.Listener
	if err := nd.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(a.ip, strconv.Itoa(agentPort)))
		return err
	}); err != nil {
		t.Fatalf("fake mesos agent on %s: %v", nd.Name, err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1" || !strings.Contains(string(body), "GET_STATE") {
			http.Error(w, "want POST /api/v1 GET_STATE", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.state())
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *fakeMesosAgent) set(id string, task mesosTask) {
	a.mu.Lock()
	a.tasks[id] = task
	a.mu.Unlock()
}

// state renders the agent's GET_STATE answer.
func (a *fakeMesosAgent) state() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := &mesos.GetState{
		GetFrameworks: mesos.GetFrameworks{Frameworks: []mesos.Framework{{FrameworkInfo: mesos.FrameworkInfo{
			ID: mesos.Value{Value: drainFramework}, Name: "marathon"}}}},
		GetAgents: mesos.GetAgents{Agents: []mesos.Agent{{AgentInfo: mesos.AgentInfo{
			ID: mesos.Value{Value: drainAgentID}, Hostname: a.ip, Port: agentPort}}}},
	}
	for id, task := range a.tasks {
		st.GetTasks.LaunchedTasks = append(st.GetTasks.LaunchedTasks, mesos.Task{
			Name: "drain", TaskID: mesos.Value{Value: id}, FrameworkID: mesos.Value{Value: drainFramework},
			AgentID: mesos.Value{Value: drainAgentID}, State: task.state,
			Statuses: []mesos.TaskStatus{{TaskID: mesos.Value{Value: id}, AgentID: mesos.Value{Value: drainAgentID},
				State: "TASK_RUNNING", Timestamp: 1, ContainerStatus: &mesos.ContainerStatus{
					NetworkInfos: []mesos.NetworkInfo{{Name: "dcos", IPAddresses: []mesos.IPAddress{{Protocol: "IPv4", IPAddress: task.ip}}}}}}},
			Discovery: &mesos.DiscoveryInfo{Name: "drain", Ports: &mesos.Ports{Ports: []mesos.Port{{Number: drainPort, Name: "http",
				Protocol: "tcp", Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "VIP_0", Value: "/drain:" + strconv.Itoa(drainPort)}}}}}}},
			Container: &mesos.ContainerInfo{Type: "MESOS"},
		})
	}
	b, _ := json.Marshal(mesos.Response{Type: "GET_STATE", GetState: st})
	return b
}

// serveNameEcho listens on TCP addr inside n; each connection first gets
// name and a newline, then its own lines echoed back until it closes.
func serveNameEcho(t *testing.T, n netsim.Namespace, addr, name string) {
	t.Helper()
	var ln net.Listener
	if err := n.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, n.NSName, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			go func() {
				defer conn.Close()
				io.WriteString(conn, name+"\n")
				io.Copy(conn, conn)
			}()
		}
	}()
}

// echoConn is an open connection to a serveNameEcho backend.
type echoConn struct {
	net.Conn
	r       *bufio.Reader
	backend string
}

// dialEcho connects from n to addr and reads the backend's name.
func dialEcho(n netsim.Namespace, addr string) (*echoConn, error) {
	var c net.Conn
	if err := n.Do(func(ns.NetNS) error {
		var err error
		c, err = net.DialTimeout("tcp", addr, l4lbDialMax)
		return err
	}); err != nil {
		return nil, err
	}
	e := &echoConn{Conn: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(l4lbDialMax))
	name, err := e.r.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read backend name from %s: %w", addr, err)
	}
	e.backend = strings.TrimSpace(name)
	return e, nil
}

// roundTrip sends one line and checks that it comes back.
func (e *echoConn) roundTrip(line string) error {
	e.SetDeadline(time.Now().Add(l4lbDialMax))
	if _, err := io.WriteString(e, line+"\n"); err != nil {
		return err
	}
	got, err := e.r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != line {
		return fmt.Errorf("echo %q, want %q", got, line)
	}
	return nil
}

// drainVIP reads nd's drain VIP: its address and the draining backends.
func drainVIP(nd *node) (addr string, active, draining []string, err error) {
	vs, err := vips(nd)
	if err != nil {
		return "", nil, nil, err
	}
	for _, v := range vs {
		if v.Name != drainDNSName || v.Protocol != "tcp" || v.Port != drainPort {
			continue
		}
		for _, b := range v.Backends {
			switch {
			case b.Active && b.Draining:
				draining = append(draining, b.IP)
			case b.Active:
				active = append(active, b.IP)
			}
		}
		return v.Address, active, draining, nil
	}
	return "", nil, nil, fmt.Errorf("no %s on %s: %+v", drainDNSName, nd.Name, vs)
}

// testDraining: two Mesos tasks on the agent of nodes[1] back /drain:8080;
// a client on nodes[0] (which learns them through etcd only) holds a
// connection to one; the task goes TASK_KILLING: new connections all go to
// the other, the held connection keeps working.
func testDraining(t *testing.T, nodes []*node, agent *fakeMesosAgent, client attached) {
	ids := map[string]string{}
	for _, name := range []string{"task1", "task2"} {
		c := attach(t, nodes[1], name)
		serveNameEcho(t, c.Namespace, ":"+strconv.Itoa(drainPort), name)
		ids[name] = "drain." + name
		agent.set(ids[name], mesosTask{ip: c.ip4, state: "TASK_RUNNING"})
	}
	var addr string
	err := netsim.WaitFor(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
		a, active, _, err := drainVIP(nodes[0])
		if err == nil && len(active) != 2 {
			err = fmt.Errorf("%d active backends, want 2", len(active))
		}
		addr = a
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(addr, strconv.Itoa(drainPort))
	held, err := dialEcho(client.Namespace, target)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := held.roundTrip("before"); err != nil {
		t.Fatalf("held connection to %s before draining: %v", held.backend, err)
	}
	other := "task1"
	if held.backend == other {
		other = "task2"
	}
	t.Logf("holding a connection to %s through %s; draining it", held.backend, target)
	agent.set(ids[held.backend], mesosTask{ip: agentTaskIP(agent, ids[held.backend]), state: "TASK_KILLING"})
	err = netsim.WaitFor(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
		_, active, draining, err := drainVIP(nodes[0])
		if err == nil && (len(active) != 1 || len(draining) != 1) {
			err = fmt.Errorf("active %v draining %v, want one each", active, draining)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for range 50 {
		c, err := dialEcho(client.Namespace, target)
		if err != nil {
			t.Fatalf("new connection to %s while %s drains: %v (so far %v)", target, held.backend, err, counts)
		}
		counts[c.backend]++
		c.Close()
	}
	if counts[other] != 50 {
		t.Errorf("new connections while %s drains: %v, want all 50 on %s", held.backend, counts, other)
	}
	for i := range 3 {
		if err := held.roundTrip(fmt.Sprintf("after-%d", i)); err != nil {
			t.Errorf("held connection to draining %s: %v", held.backend, err)
		}
	}
}

func agentTaskIP(a *fakeMesosAgent, id string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tasks[id].ip
}

// testRelease: the drain VIP's tasks all end; after the grace period its
// name record and address allocations are gone from etcd and no node
// programs it any more.
func testRelease(t *testing.T, nodes []*node, m *netsim.Node, endpoints string, agent *fakeMesosAgent) {
	agent.mu.Lock()
	clear(agent.tasks)
	agent.mu.Unlock()
	gone := time.Now()
	keys := []string{cluster.VIPNamesPrefix + drainDNSName, cluster.VIPNamePrefix + "ip/" + drainDNSName}
	var released time.Time
	err := netsim.WaitFor(context.Background(), releaseGrace+20*time.Second, 100*time.Millisecond, func() error {
		for _, k := range keys {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			out, err := m.Run(ctx, "etcdctl", "--endpoints", endpoints, "get", "--keys-only", k)
			cancel()
			if err != nil || strings.TrimSpace(out) != "" {
				return fmt.Errorf("%s still there (%v): %s", k, err, out)
			}
		}
		released = time.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := released.Sub(gone); took < releaseGrace {
		t.Errorf("released %v after the last task ended, before the %v grace period", took, releaseGrace)
	}
	t.Logf("%s released %v after its last task ended", drainDNSName, released.Sub(gone).Round(time.Millisecond))
	for _, nd := range nodes {
		if _, _, _, err := drainVIP(nd); err == nil {
			t.Errorf("%s still programs %s", nd.Name, drainDNSName)
		}
	}
}
