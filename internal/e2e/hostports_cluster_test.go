package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/mesostest"
	"github.com/dcnet/dcnet/internal/netsim"
)

// hostPortsState is the Mesos master state of the two port-mapped tasks:
// marathon's "ucr" (MESOS, host port 8080) on agent-1 and "dock" (DOCKER
// BRIDGE-style, host port 8081) on agent-2, with their container IPs.
func hostPortsState(masterIP, agent1, agent2, ucrIP, dockIP string) string {
	task := func(id, name, agent, ctype string, hostPort int, ip string) string {
		return fmt.Sprintf(`{"id":%q,"name":%q,"framework_id":"fw-1","slave_id":%q,"state":"TASK_RUNNING",
		  "resources":{"ports":"[%d-%d]"},"container":{"type":%q},
		  "statuses":[{"state":"TASK_RUNNING","timestamp":1,"container_status":{"network_infos":[{"name":"dcos","ip_addresses":[{"protocol":"IPv4","ip_address":%q}]}]}}]}`,
			id, name, agent, hostPort, hostPort, ctype, ip)
	}
	return fmt.Sprintf(`{"id":"m","pid":"master@%[1]s:5050","hostname":"%[1]s","leader":"master@%[1]s:5050",
	 "leader_info":{"id":"m","pid":"master@%[1]s:5050","port":5050,"hostname":"%[1]s"},
	 "frameworks":[{"id":"fw-1","name":"marathon","hostname":"%[1]s","pid":"scheduler@%[1]s:8080","active":true,"tasks":[%[2]s,%[3]s]}],
	 "slaves":[{"id":"agent-1","hostname":"%[4]s","pid":"slave(1)@%[4]s:5051"},{"id":"agent-2","hostname":"%[5]s","pid":"slave(1)@%[5]s:5051"}]}`,
		masterIP, task("ucr.1", "ucr", "agent-1", "MESOS", 8080, ucrIP), task("dock.1", "dock", "agent-2", "DOCKER", 8081, dockIP), agent1, agent2)
}

// TestPrivilegedHostPortsCluster, three agents with overlayd, dcnet-l4lb
// and dcnet-dns: a UCR task started by Mesos' isolator with conf/mesos
// dcos.conf (host port 8080, VIPs /ucr:80 and 5.6.7.9:80) on a1, and a
// Docker container run with -p 8081:7000 (VIP /dock:7000) on a2, are
// reached by their host ports from another agent and from their own, by
// their named and IP VIPs from every agent (their own included), and by
// their autoip (agent IP: they map host ports), agentip and containerip
// names; a CNI container on a3 holding host port 80 does not break the
// VIPs on port 80 for a3's own clients.
func TestPrivilegedHostPortsCluster(t *testing.T) {
	requireDocker(t)
	netsim.RequireCommands(t, "dig", "nft")
	_, nodes, members, endpoints := agents(t, "ehpcl", 3, "")
	master := members[0].Node
	a1, a2, a3 := nodes[0], nodes[1], nodes[2]
	// A UCR task on the default bridge (mesos-bridge: no overlay address)
	// on a2, known to a2's dcnet-l4lb through its Mesos agent: balanced to
	// a2's IP and host port 8090, and on a2 itself to the task's address.
	brTmp := t.TempDir()
	brIso := &mesosIsolator{t: t, node: a2, configDir: filepath.Join(brTmp, "etc/cni"), pluginsDir: pluginDirs(t, brTmp),
		rootDir: filepath.Join(brTmp, "var/run/mesos/isolators/network/cni")}
	// One dcnet-portmap state per node, shared by every runtime on it (the
	// defaults do so); dcnet-cnm's on a2 is a2.dir/portmap too.
	mesosConfigs(t, brIso.configDir, a2.socket, filepath.Join(a2.dir, "portmap"), filepath.Join(brTmp, "host-local"))
	brC, err := a2.AddContainer("ucrbr")
	if err != nil {
		t.Fatal(err)
	}
	brInfo, err := brIso.isolate("6a2b5c3e-0f1d-4e8a-9b7c-00000000b1b1", brC, "mesos-bridge", networkInfo("mesos-bridge", 8090, 80))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = brIso.cleanup("6a2b5c3e-0f1d-4e8a-9b7c-00000000b1b1", "mesos-bridge") })
	netsim.ServeName(t, brC.Namespace, ":80", "ucrbr")
	agentURL := serveAgentState(t, a2, bridgeTaskState(a2.UnderlayIP.String(), netip.MustParsePrefix(brInfo.IP4.IP).Addr().String()))
	for _, nd := range nodes {
		args := []string{bin("dcnet-l4lb"), "--etcd-endpoints", endpoints, "--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s"}
		if nd == a2 {
			args = append(args, "--mesos-agent", agentURL)
		}
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), args...)
		// The VIPs are routed somewhere, as by a real node's default route.
		for _, dst := range []string{"11.0.0.0/8", "5.6.7.0/24"} {
			if _, err := nd.Run(context.Background(), "ip", "route", "add", dst, "dev", "eth0"); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The UCR task, as the Mesos agent on a1 starts it.
	tmp := t.TempDir()
	iso := &mesosIsolator{t: t, node: a1, configDir: filepath.Join(tmp, "etc/cni"), pluginsDir: pluginDirs(t, tmp),
		rootDir: filepath.Join(tmp, "var/run/mesos/isolators/network/cni")}
	mesosConfigs(t, iso.configDir, a1.socket, filepath.Join(a1.dir, "portmap"), filepath.Join(tmp, "host-local"))
	ucrC, err := a1.AddContainer("ucr")
	if err != nil {
		t.Fatal(err)
	}
	ni := networkInfo("dcos", 8080, 80)
	ni["labels"] = map[string]any{"labels": []any{map[string]any{"key": "VIP_0", "value": "/ucr:80"}, map[string]any{"key": "VIP_1", "value": "5.6.7.9:80"}}}
	info, err := iso.isolate("6a2b5c3e-0f1d-4e8a-9b7c-00000000c1u1", ucrC, "dcos", ni)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iso.cleanup("6a2b5c3e-0f1d-4e8a-9b7c-00000000c1u1", "dcos") })
	ucrIP := netip.MustParsePrefix(info.IP4.IP).Addr().String()
	netsim.ServeName(t, ucrC.Namespace, ":80", "ucr")

	// The Docker task on a2.
	dn := startDocker(t, a2)
	dn.createNetwork()
	dn.mustDocker("run", "-d", "--name", "dock", "--network", "name=dcos,driver-opt=VIP_0=/dock:7000", "-p", "8081:7000", probeImage, "serve", ":7000")
	dockIP := dn.ip("dock")

	// Mesos-DNS on the master, dcnet-dns on every agent.
	mip := master.UnderlayIP.String()
	mm, err := mesostest.Start(master, []byte(hostPortsState(mip, a1.UnderlayIP.String(), a2.UnderlayIP.String(), ucrIP, dockIP)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mm.Close() })
	startUpstream(t, a1, a1.UnderlayIP.String())
	netsim.StartProcessT(t, master, filepath.Join(t.TempDir(), "mesos-dns.log"), bin("dcnet-dns"), "--mode", "mesos-dns",
		"--mesos-master", mm.URL, "--refresh", "200ms", "--etcd-endpoints", endpoints, "--upstream", "127.0.0.1:5399", "--timeout", "1s")
	var clients []attached
	for _, nd := range nodes {
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "dns.log"), bin("dcnet-dns"), "--node-ip", nd.UnderlayIP.String(),
			"--etcd-endpoints", endpoints, "--mesos-dns", mip, "--upstream", a1.UnderlayIP.String(), "--timeout", "1s")
		clients = append(clients, attach(t, nd, "client"))
	}

	// a3 holds host port 80 for a CNI container: VIPs on port 80 stay VIPs.
	a3.writeConf("10-dcos.conflist", portmapList(a3.socket, filepath.Join(a3.dir, "portmap")))
	hp, err := a3.AddContainer("hp80")
	if err != nil {
		t.Fatal(err)
	}
	cmd := a3.Exec(context.Background(), bin("cnitool"), "add", "dcos", hp.Path)
	cmd.Env = append(cmd.Environ(), "CNI_PATH="+binDir, "NETCONFPATH="+a3.confDir, `CAP_ARGS={"portMappings":[{"hostPort":80,"containerPort":80}]}`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cnitool add with host port 80 on a3: %v\n%s", err, out)
	}
	netsim.ServeName(t, hp.Namespace, ":80", "hp80")
	wantDial(t, "a3's own host port 80", a3.Namespace, a3.UnderlayIP.String()+":80", "hp80")

	// Host ports: from another agent and from the task's own.
	wantDial(t, "UCR task by host port from a3", a3.Namespace, a1.UnderlayIP.String()+":8080", "ucr")
	wantDial(t, "UCR task by host port from a1", a1.Namespace, a1.UnderlayIP.String()+":8080", "ucr")
	for _, n := range []netsim.Namespace{a3.Namespace, a2.Namespace} {
		if got, err := greet(n, a2.UnderlayIP.String()+":8081"); err != nil || !strings.HasPrefix(got, "hello from ") {
			t.Errorf("Docker task by host port from %s: %q, %v", n.NSName, got, err)
		}
	}

	// VIPs from every agent, the backends' own included, and DNS names.
	const spartan = "198.51.100.1"
	names := map[string]string{
		"ucr.marathon.l4lb.thisdcos.directory":              "",
		"ucr.marathon.autoip.dcos.thisdcos.directory":       a1.UnderlayIP.String(),
		"ucr.marathon.agentip.dcos.thisdcos.directory":      a1.UnderlayIP.String(),
		"ucr.marathon.containerip.dcos.thisdcos.directory":  ucrIP,
		"dock.marathon.autoip.dcos.thisdcos.directory":      a2.UnderlayIP.String(),
		"dock.marathon.containerip.dcos.thisdcos.directory": dockIP,
	}
	for i, c := range clients {
		resolved := map[string]string{}
		err := netsim.WaitFor(context.Background(), 45*time.Second, 200*time.Millisecond, func() error {
			for name, want := range names {
				out, err := dig(c, spartan, "+short", name)
				if err != nil || out == "" || (want != "" && out != want) {
					return fmt.Errorf("%s on %s: %q %v, want %q", name, nodes[i].Name, out, err, want)
				}
				resolved[name] = out
			}
			return nil
		})
		if err != nil {
			t.Errorf("names: %v", err)
			continue
		}
		vip := resolved["ucr.marathon.l4lb.thisdcos.directory"]
		for _, n := range []netsim.Namespace{c.Namespace, nodes[i].Namespace} {
			wantDial(t, "named VIP of the UCR task", n, vip+":80", "ucr")
			wantDial(t, "IP VIP of the UCR task", n, "5.6.7.9:80", "ucr")
		}
		brVIP := ""
		if err := netsim.WaitFor(context.Background(), 30*time.Second, 200*time.Millisecond, func() error {
			out, err := dig(c, spartan, "+short", "ucrbr.marathon.l4lb.thisdcos.directory")
			if err != nil || out == "" {
				return fmt.Errorf("ucrbr VIP: %q %v", out, err)
			}
			brVIP = out
			return nil
		}); err != nil {
			t.Error(err)
		}
		for _, n := range []netsim.Namespace{c.Namespace, nodes[i].Namespace} {
			wantDial(t, "named VIP of the mesos-bridge task (agent IP:host port, its own address on its node)", n, brVIP+":80", "ucrbr")
		}
		dockVIP := ""
		_ = netsim.WaitFor(context.Background(), 30*time.Second, 200*time.Millisecond, func() error {
			out, err := dig(c, spartan, "+short", "dock.marathon.l4lb.thisdcos.directory")
			if err != nil || out == "" {
				return fmt.Errorf("dock VIP: %q %v", out, err)
			}
			dockVIP = out
			return nil
		})
		if got, err := greet(nodes[i].Namespace, dockVIP+":7000"); err != nil || !strings.HasPrefix(got, "hello from ") {
			t.Errorf("named VIP of the Docker task from %s: %q, %v", nodes[i].Name, got, err)
		}
	}
}

// bridgeTaskState is a Mesos agent's GET_STATE with one running UCR task
// on mesos-bridge: container port 80 mapped to host port 8090, VIP
// /ucrbr:80, at taskIP.
func bridgeTaskState(agentIP, taskIP string) string {
	return fmt.Sprintf(`{"type":"GET_STATE","get_state":{
	 "get_agents":{"agents":[{"agent_info":{"id":{"value":"agent-2"},"hostname":%q}}]},
	 "get_frameworks":{"frameworks":[{"framework_info":{"id":{"value":"fw-1"},"name":"marathon"}}]},
	 "get_tasks":{"tasks":[{"task_id":{"value":"ucrbr.1"},"framework_id":{"value":"fw-1"},"agent_id":{"value":"agent-2"},"state":"TASK_RUNNING",
	  "container":{"type":"MESOS","network_infos":[{"name":"mesos-bridge","port_mappings":[{"host_port":8090,"container_port":80,"protocol":"tcp"}]}]},
	  "statuses":[{"state":"TASK_RUNNING","timestamp":1,"container_status":{"network_infos":[{"name":"mesos-bridge","ip_addresses":[{"ip_address":%q}]}]}}],
	  "discovery":{"ports":{"ports":[{"number":80,"protocol":"tcp","labels":{"labels":[{"key":"VIP_0","value":"/ucrbr:80"}]}}]}}}]}}}`, agentIP, taskIP)
}

// serveAgentState serves a fixed GET_STATE answer as the node's Mesos agent
// (POST /api/v1 on <node IP>:5051) and returns its URL.
func serveAgentState(t *testing.T, nd *node, state string) string {
	t.Helper()
	addr := net.JoinHostPort(nd.UnderlayIP.String(), strconv.Itoa(agentPort))
	ln, err := nd.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, state)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + addr
}
