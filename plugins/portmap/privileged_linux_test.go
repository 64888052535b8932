package portmap

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/nftables"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/plugins/internal/plugintest"
)

// bridgeConf is DC/OS's default UCR bridge: dcnet-portmap delegating to
// the reference bridge + host-local, chain UCR-DEFAULT-BRIDGE.
func bridgeConf(stateDir, ipamDir, chain, excludes string, localhost bool, maps string) string {
	return fmt.Sprintf(`{"name":"mesos-bridge","type":"dcnet-portmap","chain":%q,"excludeDevices":[%s],"localhost":%v,
	  "stateDir":%q,"delegate":{"type":"bridge","bridge":"ucr-br0","isGateway":true,"ipMasq":false,"hairpinMode":true,
	    "ipam":{"type":"host-local","subnet":"172.31.254.0/24","dataDir":%q,"routes":[{"dst":"0.0.0.0/0"}]}},
	  "args":{"org.apache.mesos":{"network_info":{"name":"mesos-bridge","port_mappings":[%s]}}}}`,
		chain, excludes, localhost, stateDir, ipamDir, maps)
}

// addrOf is the container address of a 0.1.0 result.
func addrOf(t *testing.T, out string) string {
	t.Helper()
	var res struct {
		IP4 struct {
			IP string `json:"ip"`
		} `json:"ip4"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.IP4.IP == "" {
		t.Fatalf("ADD result %q: want a 0.1.0 result with ip4 (%v)", out, err)
	}
	return netip.MustParsePrefix(res.IP4.IP).Addr().String()
}

// TestPrivilegedDataPlane runs the dcnet-portmap binary as Mesos runs its
// port mapper, delegating to the reference bridge + host-local on node n1,
// and checks the host ports from another node, from the node itself (its
// address and 127.0.0.1), from the containers (hairpin to itself and to a
// neighbour), that every excluded device is excluded, that a second
// container asking for a taken port fails naming the holder and leaves
// nothing, that a VIP on the same port as a host port (dcnet-l4lb's table
// on both nodes) still reaches its backend from both nodes, that the
// tables heal from the state after hand damage, and that DEL of everything
// leaves the node's rules as they were.
func TestPrivilegedDataPlane(t *testing.T) {
	netsim.Privileged(t, "nft", "iptables-save")
	cniPath := buildPlugins(t)
	f := netsim.NewFabric(t, "pmapdp")
	n1, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := f.AddNode("n2")
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, n1.Namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, n := range []*netsim.Node{n1, n2} { // VIPs are routed somewhere, as on a real node
		mustRun(t, n.Namespace, "ip", "route", "add", "11.0.0.0/8", "dev", "eth0")
	}
	before := rulesetOf(t, n1.Namespace)
	state, ipam := t.TempDir(), t.TempDir()
	// The container bridge is not excluded (DC/OS excluded it, which breaks
	// hairpin): dcnet-portmap masquerades hairpin connections instead.
	conf := func(maps string) string {
		return bridgeConf(state, ipam, "UCR-DEFAULT-BRIDGE", `"docker0"`, true, maps)
	}
	nodeIP := n1.UnderlayIP.String()

	ctrs := map[string]*netsim.Container{}
	ips := map[string]string{}
	confs := map[string]string{
		"c1": conf(`{"host_port":8080,"container_port":80,"protocol":"tcp"},{"host_port":5353,"container_port":53,"protocol":"udp"}`),
		"c2": conf(`{"host_port":8081,"container_port":80}`),
		// Another chain whose traffic from eth0 (the underlay) is excluded;
		// eth0 comes first, so a port mapper that honoured only the last
		// entry would translate it.
		"c4": bridgeConf(state, ipam, "EXCL", `"eth0","bogus0"`, false, `{"host_port":8084,"container_port":80}`),
	}
	for _, name := range []string{"c1", "c2", "c4"} {
		c, err := n1.AddContainer(name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := cniCall(n1, cniPath, "dcnet-portmap", "ADD", name, c.Path, confs[name])
		if err != nil {
			t.Fatalf("ADD %s: %v", name, err)
		}
		ctrs[name], ips[name] = c, addrOf(t, out)
		netsim.ServeName(t, c.Namespace, ":80", name)
	}
	netsim.ServeUDPName(t, ctrs["c1"].Namespace, ":53", "c1-udp")
	ruleset := mustRun(t, n1.Namespace, "nft", "list", "table", "ip", TableName)
	for _, want := range []string{`tcp . 8080 comment "container_id: c1 ifname: eth0" : 172.31.254.`,
		"meta l4proto . th dport @UCR-DEFAULT-BRIDGE jump UCR-DEFAULT-BRIDGE", "set UCR-DEFAULT-BRIDGE",
		`iifname "eth0" return`, `iifname "bogus0" return`, "dnat ip to meta l4proto . th dport map @targets"} {
		if !strings.Contains(ruleset, want) {
			t.Errorf("nft list table ip %s lacks %q:\n%s", TableName, want, ruleset)
		}
	}

	hostPorts := func(what string) {
		t.Helper()
		wantName(t, what+": other node", n2.Namespace, nodeIP+":8080", "c1")
		wantUDPName(t, what+": other node", n2.Namespace, nodeIP+":5353", "c1-udp")
		wantName(t, what+": node itself", n1.Namespace, nodeIP+":8081", "c2")
		wantName(t, what+": node itself on 127.0.0.1", n1.Namespace, "127.0.0.1:8080", "c1")
		wantName(t, what+": hairpin to itself", ctrs["c1"].Namespace, nodeIP+":8080", "c1")
		wantName(t, what+": hairpin to a neighbour", ctrs["c2"].Namespace, nodeIP+":8080", "c1")
		wantName(t, what+": excluded chain, from the node", n1.Namespace, nodeIP+":8084", "c4")
		wantNoAnswer(t, what+": excluded chain, from eth0", n2.Namespace, nodeIP+":8084")
	}
	hostPorts("host ports")

	// A second container asking for tcp/8080: refused, naming the holder,
	// with no interface, address or element left.
	c3, err := n1.AddContainer("c3")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cniCall(n1, cniPath, "dcnet-portmap", "ADD", "c3", c3.Path, conf(`{"host_port":8080,"container_port":80}`))
	plugintest.WantCode(t, err, CodePortConflict, "host port tcp/8080 (mapping tcp 8080->80) is already mapped by container c1 interface eth0")
	if out := mustRun(t, c3.Namespace, "ip", "-o", "link"); strings.Contains(out, "eth0") {
		t.Errorf("refused container has an interface: %s", out)
	}
	// A delegate that fails (a subnet host-local cannot use) leaves nothing either.
	bad := strings.Replace(conf(`{"host_port":9999,"container_port":80}`), "172.31.254.0/24", "172.31.254.0/33", 1)
	_, err = cniCall(n1, cniPath, "dcnet-portmap", "ADD", "c3", c3.Path, bad)
	var cerr *types.Error
	if err == nil || !strings.Contains(err.Error(), "delegate bridge ADD") {
		t.Errorf("ADD with a failing delegate: %v (%T %v), want the delegate's error", err, err, cerr)
	}
	if strings.Contains(mustRun(t, n1.Namespace, "nft", "list", "table", "ip", TableName), "9999") {
		t.Error("a failed ADD left its host port in the table")
	}

	testVIPs(t, n1, n2, ctrs, ips)

	// Hand damage: an element comes back with the next GC (or the
	// container's CHECK), a chain's rule or the whole table with any ADD.
	mustRun(t, n1.Namespace, "nft", "delete", "element", "ip", TableName, "UCR-DEFAULT-BRIDGE", "{ tcp . 8081 }")
	wantNoAnswer(t, "after deleting the element", n1.Namespace, nodeIP+":8081")
	gc := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"mesos-bridge","type":"dcnet-portmap","stateDir":%q,
	  "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"eth0"},{"containerID":"c4","ifname":"eth0"}]}`, state)
	if _, err := cniCall(n1, cniPath, "dcnet-portmap", "GC", "", "", gc); err != nil {
		t.Fatalf("GC: %v", err)
	}
	wantName(t, "GC restored the element", n1.Namespace, nodeIP+":8081", "c2")
	mustRun(t, n1.Namespace, "nft", "flush", "chain", "ip", TableName, "UCR-DEFAULT-BRIDGE")
	c6, err := n1.AddContainer("c6")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cniCall(n1, cniPath, "dcnet-portmap", "ADD", "c6", c6.Path, conf(`{"host_port":8086,"container_port":80}`)); err != nil {
		t.Fatalf("ADD c6: %v", err)
	}
	wantName(t, "another ADD restored the flushed chain", n2.Namespace, nodeIP+":8080", "c1")
	mustRun(t, n1.Namespace, "nft", "delete", "table", "ip", TableName)
	wantNoAnswer(t, "after deleting the table", n2.Namespace, nodeIP+":8080")
	c5, err := n1.AddContainer("c5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cniCall(n1, cniPath, "dcnet-portmap", "ADD", "c5", c5.Path, conf(`{"host_port":8085,"container_port":80}`)); err != nil {
		t.Fatalf("ADD c5: %v", err)
	}
	hostPorts("after the table was rebuilt by another ADD")

	// DEL of everything, twice, and without a netns: the node's rules are
	// as they were.
	for _, name := range []string{"c1", "c2", "c4", "c5", "c6", "c3"} {
		c := confs[name]
		if c == "" {
			c = conf(``)
		}
		for _, netns := range []string{filepath.Join("/run/netns", netsim.ContainerNSName(f.Prefix, "n1", name)), ""} {
			if _, err := cniCall(n1, cniPath, "dcnet-portmap", "DEL", name, netns, c); err != nil {
				t.Errorf("DEL %s (netns %q): %v", name, netns, err)
			}
		}
	}
	mustRun(t, n1.Namespace, "ip", "link", "del", "ucr-br0")
	wantRulesetUnchanged(t, n1.Namespace, before)
}

// testVIPs programs dcnet-l4lb's data plane on both nodes: VIP
// 11.0.0.5:8080, whose port is c1's host port and whose backend is c2's
// container port, and the IP VIP <n1's IP>:8081 to c4. Both reach their
// backends from either node, the backend's own included: the port mapping
// never captures VIP traffic.
func testVIPs(t *testing.T, n1, n2 *netsim.Node, ctrs map[string]*netsim.Container, ips map[string]string) {
	t.Helper()
	// n2 reaches the containers' subnet through n1, as an overlay would.
	mustRun(t, n2.Namespace, "ip", "route", "add", "172.31.254.0/24", "via", n1.UnderlayIP.String())
	svc := []dataplane.Service{
		{Key: vip.Key{Protocol: "tcp", IP: netip.MustParseAddr("11.0.0.5"), Port: 8080},
			Backends: []vip.Backend{{IP: netip.MustParseAddr(ips["c2"]), Port: 80, Healthy: true}}},
		{Key: vip.Key{Protocol: "tcp", IP: netip.MustParseAddr("11.0.0.6"), Port: 8081},
			Backends: []vip.Backend{{IP: netip.MustParseAddr(ips["c4"]), Port: 80, Healthy: true}}},
	}
	plan, errs := dataplane.Build(svc)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, n := range []*netsim.Node{n1, n2} {
		h, err := n.NetNS()
		if err != nil {
			t.Fatal(err)
		}
		k := dataplane.NewNFTables(nftables.WithNetNSFd(int(h.Fd())))
		if _, err := dataplane.NewSyncer(k, nil).Apply(plan); err != nil {
			t.Fatal(err)
		}
		k.Close()
		h.Close()
		t.Cleanup(func() { _, _ = n.Run(context.Background(), "nft", "delete", "table", "ip", dataplane.TableName) })
	}
	for _, n := range []netsim.Namespace{n1.Namespace, n2.Namespace, ctrs["c1"].Namespace} {
		wantName(t, "VIP on a host port's number", n, "11.0.0.5:8080", "c2")
		wantName(t, "VIP on another host port's number", n, "11.0.0.6:8081", "c4")
	}
	wantName(t, "host port beside the VIPs", n2.Namespace, n1.UnderlayIP.String()+":8080", "c1")
	for _, n := range []*netsim.Node{n1, n2} {
		mustRun(t, n.Namespace, "nft", "delete", "table", "ip", dataplane.TableName)
	}
	mustRun(t, n2.Namespace, "ip", "route", "del", "172.31.254.0/24")
}
