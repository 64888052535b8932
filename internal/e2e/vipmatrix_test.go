package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/mesos"
	"github.com/dcnet/dcnet/l4lb/vip"
)

// Ports of the matrix VIPs: every VIP serves TCP on vipTCP and UDP on
// vipUDP, and its backends listen on the same ports (host tasks: on
// hostTCP and hostUDP of their agent).
const (
	vipTCP  = 8000
	vipUDP  = 8001
	hostTCP = 31800
	hostUDP = 31801
)

// matrixBackend is one kind of backend of the DC/OS VIP matrix.
type matrixBackend struct {
	kind  string // also what it answers
	node  int
	named string // named VIP (framework marathon)
	ip4   string
	ip6   string // "" when DC/OS has no IPv6 VIP for this kind either
}

var matrixBackends = []matrixBackend{
	{kind: "cni", node: 0, named: "mx-cni", ip4: "1.1.1.7", ip6: "fd01:c::1"},
	{kind: "docker", node: 1, named: "mx-docker", ip4: "1.1.1.8", ip6: "fd01:c::2"},
	{kind: "host", node: 2, named: "mx-host", ip4: "1.1.1.9"},
}

// vipLabels are a backend's labels for one family: the named VIP and the
// IP VIP, TCP and UDP (udp://, the protocol a CNI or Docker label names).
func vipLabels(named, ip string) map[string]string {
	return map[string]string{
		"VIP_0": "/" + named + ":" + strconv.Itoa(vipTCP),
		"VIP_1": "udp:///" + named + ":" + strconv.Itoa(vipUDP),
		"VIP_2": net.JoinHostPort(ip, strconv.Itoa(vipTCP)),
		"VIP_3": "udp://" + net.JoinHostPort(ip, strconv.Itoa(vipUDP)),
	}
}

// matrixCluster is the three agents of the matrix with dcnet-l4lb and
// dcnet-dns on each, a client container on each (dcos and dcos6), the CNI
// backend on a1, the Docker backends on a2 (dcos and dcos6), the
// host-network task on a3 (fake Mesos agents on every node).
type matrixCluster struct {
	nodes     []*node
	endpoints string
	members   []*netsim.Node
	clients   []attached
	agents    []*hostAgent
	docker    *dockerNode
}

func startMatrix(t *testing.T) *matrixCluster {
	t.Helper()
	requireDocker(t)
	_, nodes, members, endpoints := agents(t, "evipmx", 3, dcosConfig)
	mc := &matrixCluster{nodes: nodes, endpoints: endpoints}
	for _, m := range members {
		mc.members = append(mc.members, m.Node)
	}
	ctx := context.Background()
	for _, nd := range nodes {
		if out, _ := nd.Run(ctx, "ip", "route", "show", "default"); strings.TrimSpace(out) != "" {
			t.Fatalf("%s has a default route: %s", nd.Name, out)
		}
		ag := startHostAgent(t, nd)
		mc.agents = append(mc.agents, ag)
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), bin("dcnet-l4lb"), "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s", "--log-level", "debug",
			"--mesos-agent", "http://"+net.JoinHostPort(ag.ip, strconv.Itoa(agentPort)), "--mesos-poll-interval", "200ms")
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "dns.log"), bin("dcnet-dns"), "--node-ip", nd.UnderlayIP.String(),
			"--etcd-endpoints", endpoints, "--upstream", "127.0.0.1:5399", "--timeout", "1s")
	}
	for _, nd := range nodes {
		c := attach(t, nd, "client")
		_, c.ip6 = attachPlugin(t, nd, c.Container, "dcos6", "eth1", nil)
		mc.clients = append(mc.clients, c)
	}
	// CNI backend on a1: eth0 on dcos, eth1 on dcos6.
	b := matrixBackends[0]
	cni := nodes[b.node].container("mx-cni")
	netsim.ServeName(t, cni.Namespace, ":"+strconv.Itoa(vipTCP), b.kind)
	netsim.ServeUDPName(t, cni.Namespace, ":"+strconv.Itoa(vipUDP), b.kind)
	attachPlugin(t, nodes[b.node], cni, "dcos", "eth0", vipLabels(b.named, b.ip4))
	attachPlugin(t, nodes[b.node], cni, "dcos6", "eth1", vipLabels(b.named, b.ip6))
	// Docker backends on a2: one on dcos, one on dcos6 (test_ipv6).
	b = matrixBackends[1]
	mc.docker = startDocker(t, nodes[b.node])
	mc.docker.createNetwork()
	mc.docker.createNetwork("NETWORK=dcos6", "OVERLAY=dcos6", "IPV4=0", "IPV6=1")
	for _, fam := range []struct{ network, ip string }{{"dcos", b.ip4}, {"dcos6", b.ip6}} {
		opts := "name=" + fam.network
		for k, v := range vipLabels(b.named, fam.ip) {
			opts += ",driver-opt=" + strings.ToLower(k) + "=" + v
		}
		mc.docker.mustDocker("run", "-d", "--name", "mx-docker-"+fam.network, "--network", opts, probeImage,
			"serve-name", b.kind, ":"+strconv.Itoa(vipTCP), ":"+strconv.Itoa(vipUDP))
		pid := strings.TrimSpace(mc.docker.mustDocker("inspect", "-f", "{{.State.Pid}}", "mx-docker-"+fam.network))
		routes, _ := nodes[b.node].Run(context.Background(), "nsenter", "-t", pid, "-n", "sh", "-c", "ip addr; ip route; ip -6 route")
		t.Logf("Docker backend on %s:\n%s", fam.network, routes)
	}
	// Host-network task on a3's agent.
	b = matrixBackends[2]
	h := nodes[b.node]
	netsim.ServeName(t, h.Namespace, net.JoinHostPort(h.UnderlayIP.String(), strconv.Itoa(hostTCP)), b.kind)
	netsim.ServeUDPName(t, h.Namespace, net.JoinHostPort(h.UnderlayIP.String(), strconv.Itoa(hostUDP)), b.kind)
	mc.agents[b.node].add(hostTask{id: "mx-host.1", ports: []mesos.Port{
		hostPort(hostTCP, "tcp", "/"+b.named+":"+strconv.Itoa(vipTCP), net.JoinHostPort(b.ip4, strconv.Itoa(vipTCP))),
		hostPort(hostUDP, "udp", "/"+b.named+":"+strconv.Itoa(vipUDP), net.JoinHostPort(b.ip4, strconv.Itoa(vipUDP))),
	}})
	return mc
}

// matrixClient is one client of the matrix.
type matrixClient struct {
	name string
	ns   netsim.Namespace
	v6   bool
}

// clientsOf returns the matrix's four clients for a backend on node i.
func (mc *matrixCluster) clientsOf(i int) []matrixClient {
	other := (i + 1) % len(mc.nodes)
	return []matrixClient{
		{"container same node", mc.clients[i].Namespace, true},
		{"container other node", mc.clients[other].Namespace, true},
		{"host other node", mc.nodes[other].Namespace, true},
		{"host backend's node", mc.nodes[i].Namespace, true},
	}
}

// vipColumn is one column of the matrix: a VIP kind reached by address
// or by its DNS name.
type vipColumn struct {
	name   string
	v4     bool
	named  bool
	byName bool
}

var vipColumns = []vipColumn{
	{"named v4 addr", true, true, false}, {"named v4 name", true, true, true}, {"IP v4", true, false, false},
	{"named v6 addr", false, true, false}, {"named v6 name", false, true, true}, {"IP v6", false, false, false},
}

// cell dials one cell: backend b through column col from client c.
func (mc *matrixCluster) cell(b matrixBackend, col vipColumn, c matrixClient, proto string, named4, named6 map[string]string) error {
	port := vipTCP
	if proto == "udp" {
		port = vipUDP
	}
	var host string
	switch {
	case !col.v4 && b.ip6 == "":
		return errNotApplicable // a host-network task has only its agent's IPv4 address (as in DC/OS)
	case !col.named && col.v4:
		host = b.ip4
	case !col.named:
		host = b.ip6
	case col.byName:
		a, err := resolve(c.ns, vip.DNSName(b.named, "marathon"), col.v4)
		if err != nil {
			return err
		}
		host = a.String()
	case col.v4:
		host = named4[b.named]
	default:
		host = named6[b.named]
	}
	return dialAll(c.ns, proto, net.JoinHostPort(host, strconv.Itoa(port)), b.kind, 2)
}

// namedAddrs waits until nd programs every named VIP of the matrix in
// both families (the host task's in IPv4 only) and returns the addresses.
func (mc *matrixCluster) namedAddrs(t *testing.T, nd *node) (v4, v6 map[string]string) {
	t.Helper()
	err := netsim.WaitFor(context.Background(), 60*time.Second, 100*time.Millisecond, func() error {
		vs, err := vips(nd)
		if err != nil {
			return err
		}
		v4, v6 = map[string]string{}, map[string]string{}
		for _, v := range vs {
			for _, b := range matrixBackends {
				if v.Name != vip.DNSName(b.named, "marathon") || len(v.Backends) == 0 {
					continue
				}
				if a := netip.MustParseAddr(v.Address); a.Is4() {
					v4[b.named] = v.Address
				} else {
					v6[b.named] = v.Address
				}
			}
		}
		for _, b := range matrixBackends {
			if v4[b.named] == "" || (b.ip6 != "" && v6[b.named] == "") {
				return fmt.Errorf("%s: named VIPs so far v4 %v v6 %v", nd.Name, v4, v6)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v4, v6
}

// TestPrivilegedVIPMatrix is DC/OS's VIP matrix (test_networking.py's
// test_vip, test_l4lb, test_ipv6, test_dcos_cni_l4lb) on three agents
// without a default route: backends {CNI container, Docker container,
// host-network Mesos task} x VIPs {named v4, IP v4, named v6, IP v6, named
// ones by address and by DNS name} x clients {container on the backend's
// node, container on another node, host process on another node, host
// process on the backend's node}, TCP and UDP, every cell printed.
func TestPrivilegedVIPMatrix(t *testing.T) {
	netsim.RequireCommands(t, "curl", "nft")
	mc := startMatrix(t)
	named4, named6 := mc.namedAddrs(t, mc.nodes[0])
	for _, nd := range mc.nodes[1:] {
		mc.namedAddrs(t, nd)
	}
	t.Run("matrix", func(t *testing.T) {
		var b strings.Builder
		fmt.Fprintf(&b, "%-7s %-22s %-4s", "backend", "client", "")
		for _, col := range vipColumns {
			fmt.Fprintf(&b, " %-13s", col.name)
		}
		b.WriteString("\n")
		failed, passed, na := 0, 0, 0
		for _, be := range matrixBackends {
			for _, c := range mc.clientsOf(be.node) {
				for _, proto := range []string{"tcp", "udp"} {
					fmt.Fprintf(&b, "%-7s %-22s %-4s", be.kind, c.name, proto)
					for _, col := range vipColumns {
						err := mc.cell(be, col, c, proto, named4, named6)
						switch {
						case errors.Is(err, errNotApplicable):
							na++
							fmt.Fprintf(&b, " %-13s", "n/a")
						case err != nil:
							failed++
							fmt.Fprintf(&b, " %-13s", "FAIL")
							t.Errorf("%s backend, %s, %s, %s: %v", be.kind, c.name, col.name, proto, err)
						default:
							passed++
							fmt.Fprintf(&b, " %-13s", "ok")
						}
					}
					b.WriteString("\n")
				}
			}
		}
		t.Logf("DC/OS VIP matrix, %d cells passed, %d failed, %d not applicable (a host-network task has no IPv6 VIP in DC/OS either):\n%s",
			passed, failed, na, b.String())
	})
	t.Run("test_l4lb", func(t *testing.T) { testL4LB(t, mc) })
	t.Run("test_dcos_cni_l4lb", func(t *testing.T) { testSpartanNet(t, mc, named4, named6) })
	t.Run("collision", func(t *testing.T) { testCollision(t, mc, named4) })
}
