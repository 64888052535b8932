package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/mesostest"
	"github.com/dcnet/dcnet/internal/netsim"
)

// zonesTaskIP is the container IP of the task in zonesState; no container
// needs to hold it, only the records.
const zonesTaskIP = "9.0.250.50"

// zonesState is a small Mesos master state: marathon's task "app" running
// on the agent at agentIP with container IP zonesTaskIP and no host port,
// led by the master at masterIP.
func zonesState(masterIP, agentIP string) string {
	return fmt.Sprintf(`{"id":"m","pid":"master@%[1]s:5050","hostname":"%[1]s","leader":"master@%[1]s:5050",
 "leader_info":{"id":"m","pid":"master@%[1]s:5050","port":5050,"hostname":"%[1]s"},
 "frameworks":[{"id":"fw-1","name":"marathon","hostname":"%[1]s","pid":"scheduler@%[1]s:8080","active":true,
  "tasks":[{"id":"app.1","name":"app","framework_id":"fw-1","slave_id":"agent-1","state":"TASK_RUNNING","resources":{"ports":"[]"},
   "statuses":[{"state":"TASK_RUNNING","timestamp":1,"container_status":{"network_infos":[{"name":"dcos","ip_addresses":[{"protocol":"IPv4","ip_address":"%[3]s"}]}]}}]}]}],
 "slaves":[{"id":"agent-1","hostname":"%[2]s","pid":"slave(1)@%[2]s:5051"}]}`, masterIP, agentIP, zonesTaskIP)
}

// TestPrivilegedDNSEveryZoneEveryNode: three nodes run overlayd,
// dcnet-l4lb and dcnet-dns with its defaults (198.51.100.1-3 on link
// spartan); a master runs Mesos-DNS mode fed by a Mesos master. From a
// container on every node, dig answers every zone: ready.spartan,
// thisnode, a named VIP (A and AAAA), the three task name forms, *.mesos
// (forwarded to Mesos-DNS), a --cname name, a forwarded upstream name;
// TTL 5, SOA ns.spartan, NXDOMAIN versus NODATA.
func TestPrivilegedDNSEveryZoneEveryNode(t *testing.T) {
	netsim.RequireCommands(t, "dig", "nft")
	_, nodes, members, endpoints := agents(t, "ezone", 3, dualConfig)
	master := members[0].Node
	mip := master.UnderlayIP.String()
	agentIP := nodes[0].UnderlayIP.String()
	mm, err := mesostest.Start(master, []byte(zonesState(mip, agentIP)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mm.Close() })
	startUpstream(t, nodes[0], agentIP)
	netsim.StartProcessT(t, master, filepath.Join(t.TempDir(), "mesos-dns.log"), bin("dcnet-dns"), "--mode", "mesos-dns",
		"--mesos-master", mm.URL, "--refresh", "200ms",
		"--etcd-endpoints", endpoints, "--upstream", "127.0.0.1:5399", "--timeout", "1s")
	var clients []attached
	for _, nd := range nodes {
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), bin("dcnet-l4lb"), "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s")
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "dns.log"), bin("dcnet-dns"), "--node-ip", nd.UnderlayIP.String(),
			"--etcd-endpoints", endpoints, "--mesos-dns", mip, "--cname", "registry.component.thisdcos.directory=leader.mesos",
			"--upstream", agentIP, "--timeout", "1s")
		clients = append(clients, attach(t, nd, "client"))
	}
	attachWeb(t, nodes[1], "web1")

	const spartan = "198.51.100.1"
	soa := regexp.MustCompile(`IN\s+SOA\s+ns\.spartan\.`)
	short := func(c attached, args ...string) string {
		out, err := dig(c, spartan, append([]string{"+short"}, args...)...)
		if err != nil {
			return "error: " + err.Error()
		}
		return out
	}
	// Everything is asynchronous (etcd, Mesos-DNS's poll, l4lb's sync):
	// wait until the slowest zone answers on every node.
	for i, c := range clients {
		err := netsim.WaitFor(context.Background(), 30*time.Second, 100*time.Millisecond, func() error {
			for _, name := range []string{webDNSName, "app.marathon.containerip.dcos.thisdcos.directory", "leader.mesos"} {
				if out := short(c, name); out == "" || strings.HasPrefix(out, "error") {
					return fmt.Errorf("%s on %s: %q", name, c.Node.Name, out)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, netsim.TailFile(filepath.Join(nodes[i].dir, "dns.log"), 20))
		}
	}
	for i, c := range clients {
		nodeIP := nodes[i].UnderlayIP.String()
		for _, tc := range []struct{ args, want string }{
			{"ready.spartan", "127.0.0.1"},
			{"thisnode.thisdcos.directory", nodeIP},
			{"app.marathon.agentip.dcos.thisdcos.directory", agentIP},
			{"app.marathon.containerip.dcos.thisdcos.directory", zonesTaskIP},
			{"app.marathon.autoip.dcos.thisdcos.directory", zonesTaskIP},
			{"leader.mesos", mip},
			{"registry.component.thisdcos.directory", "leader.mesos.\n" + mip},
			{dnsForwardedName, dnsForwardedIP},
		} {
			if got := short(c, strings.Fields(tc.args)...); got != tc.want {
				t.Errorf("node %s: dig %s = %q, want %q", c.Node.Name, tc.args, got, tc.want)
			}
		}
		if got := short(c, webDNSName); !strings.HasPrefix(got, "11.") {
			t.Errorf("node %s: dig %s = %q, want an address in 11.0.0.0/8", c.Node.Name, webDNSName, got)
		}
		if got := short(c, "AAAA", webDNSName); !strings.HasPrefix(got, "fd01:c::") {
			t.Errorf("node %s: dig AAAA %s = %q, want an address in fd01:c::/64", c.Node.Name, webDNSName, got)
		}
		// TTL 5 and authority: the full answers.
		full := func(args ...string) string {
			out, err := dig(c, spartan, append([]string{"+noall", "+answer", "+authority", "+comments"}, args...)...)
			if err != nil {
				t.Fatalf("node %s: dig %v: %v", c.Node.Name, args, err)
			}
			return out
		}
		if out := full(webDNSName); !regexp.MustCompile(regexp.QuoteMeta(webDNSName) + `\.\s+5\s+IN\s+A\s+11\.`).MatchString(out) {
			t.Errorf("node %s: %s not answered with TTL 5:\n%s", c.Node.Name, webDNSName, out)
		}
		if out := full("nope.marathon.containerip.dcos.thisdcos.directory"); !strings.Contains(out, "status: NXDOMAIN") || !soa.MatchString(out) {
			t.Errorf("node %s: unknown task name: want NXDOMAIN with the SOA ns.spartan:\n%s", c.Node.Name, out)
		}
		if out := full("TXT", "thisnode.thisdcos.directory"); !strings.Contains(out, "status: NOERROR") || regexp.MustCompile(`IN\s+TXT`).MatchString(out) || !soa.MatchString(out) {
			t.Errorf("node %s: TXT of an existing name: want NODATA (NOERROR, no answer, SOA):\n%s", c.Node.Name, out)
		}
		if out := full("SOA", "l4lb.thisdcos.directory"); !soa.MatchString(out) {
			t.Errorf("node %s: SOA of l4lb.thisdcos.directory:\n%s", c.Node.Name, out)
		}
	}
}
