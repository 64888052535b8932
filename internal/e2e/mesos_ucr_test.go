package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

// mesosConfigs copies conf/mesos into dir as an operator installs it on a
// node, setting the three things a real node has elsewhere: overlayd's
// socket for the dcnet delegates, dcnet-portmap's state directory and
// host-local's data directory.
func mesosConfigs(t *testing.T, dir, socket, state, hostLocal string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(), "conf", "mesos", "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("conf/mesos: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var conf map[string]any
		if err := json.Unmarshal(data, &conf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		conf["stateDir"] = state
		d := conf["delegate"].(map[string]any)
		if d["type"] == "dcnet" {
			d["socket"] = socket
		}
		if ipam, ok := d["ipam"].(map[string]any); ok {
			ipam["dataDir"] = hostLocal
		}
		out, _ := json.MarshalIndent(conf, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pluginDirs splits the built plugins over two directories, so that
// CNI_PATH is a real search path: dcnet-portmap in the first, its
// delegates in the second.
func pluginDirs(t *testing.T, root string) string {
	t.Helper()
	first, second := filepath.Join(root, "opt/mesosphere/active/cni"), filepath.Join(root, "opt/cni/bin")
	for dir, names := range map[string][]string{first: {"dcnet-portmap"}, second: {"dcnet", "dcnet-ipam", "bridge", "host-local"}} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.Symlink(bin(n), filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return first + ":" + second
}

func networkInfo(name string, hostPort, containerPort int) map[string]any {
	return map[string]any{"name": name,
		"labels":        map[string]any{"labels": []any{map[string]any{"key": "VIP_0", "value": "/web:80"}}},
		"port_mappings": []any{map[string]any{"host_port": hostPort, "container_port": containerPort, "protocol": "tcp"}}}
}

// TestPrivilegedMesosUCR is the Mesos agent's network/cni isolator running
// conf/mesos: tasks on dcos (dcnet-portmap -> dcnet), dcos6 and
// mesos-bridge (-> reference bridge + host-local) get addresses in the
// 0.1.0 result Mesos reads and their host ports from another node, from
// the node itself and from the task itself (hairpin); a task asking for a
// taken host port fails naming the holder and leaves no lease; DEL runs
// from the checkpoint, also after a simulated reboot (no netns handle, no
// CNI_NETNS, no kernel state); the node's rules end as they began.
func TestPrivilegedMesosUCR(t *testing.T) {
	f, nd := setup(t, "emucr", "")
	netsim.RequireCommands(t, "nft")
	client, err := f.AddNode("client")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	iso := &mesosIsolator{t: t, node: nd, configDir: filepath.Join(tmp, "etc/cni"), pluginsDir: pluginDirs(t, tmp),
		rootDir: filepath.Join(tmp, "var/run/mesos/isolators/network/cni")}
	mesosConfigs(t, iso.configDir, nd.socket, filepath.Join(tmp, "var/lib/dcnet/portmap"), filepath.Join(tmp, "var/lib/cni"))
	nets, err := nd.client.Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := rulesetIn(t, nd.Namespace)
	nodeIP := nd.UnderlayIP.String()

	type task struct {
		id, network string
		hostPort    int
		c           *netsim.Container
		info        mesosNetworkInfo
	}
	tasks := []*task{
		{id: "6a2b5c3e-0f1d-4e8a-9b7c-000000000001", network: "dcos", hostPort: 8080},
		{id: "6a2b5c3e-0f1d-4e8a-9b7c-000000000002", network: "dcos6", hostPort: 8086},
		{id: "6a2b5c3e-0f1d-4e8a-9b7c-000000000003", network: "mesos-bridge", hostPort: 8090},
	}
	for i, tk := range tasks {
		if tk.c, err = nd.AddContainer("t" + string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
		if tk.info, err = iso.isolate(tk.id, tk.c, tk.network, networkInfo(tk.network, tk.hostPort, 80)); err != nil {
			t.Fatalf("isolate %s on %s: %v", tk.id, tk.network, err)
		}
		netsim.ServeName(t, tk.c.Namespace, "[::]:80", tk.network)
	}
	if tasks[0].info.IP4 == nil || tasks[0].info.IP6 != nil || tasks[1].info.IP6 == nil || tasks[1].info.IP4 != nil || tasks[2].info.IP4 == nil {
		t.Fatalf("results: dcos %+v, dcos6 %+v, mesos-bridge %+v: want ip4, ip6 and ip4", tasks[0].info, tasks[1].info, tasks[2].info)
	}
	lease := leaseOf(t, nd, netip.MustParsePrefix(tasks[0].info.IP4.IP).Addr().String())
	if lease.Labels["VIP_0"] != "/web:80" || len(lease.PortMappings) != 1 || lease.PortMappings[0].HostPort != 8080 {
		t.Errorf("overlayd's record of the dcos task: labels %v mappings %v, want the VIP label and 8080->80", lease.Labels, lease.PortMappings)
	}

	// The host ports: from another node, from the node, from the task itself.
	wantDial(t, "dcos task from another node", client.Namespace, nodeIP+":8080", "dcos")
	wantDial(t, "dcos task from its node", nd.Namespace, nodeIP+":8080", "dcos")
	wantDial(t, "dcos task reaching its own host port", tasks[0].c.Namespace, nodeIP+":8080", "dcos")
	wantDial(t, "mesos-bridge task from another node", client.Namespace, nodeIP+":8090", "mesos-bridge")
	wantDial(t, "dcos task from the mesos-bridge task", tasks[2].c.Namespace, nodeIP+":8080", "dcos")
	gw6 := ""
	for _, n := range nets {
		if n.Name == "dcos6" {
			gw6 = n.Gateway6
		}
	}
	wantDial(t, "dcos6 task from its node over IPv6", nd.Namespace, "["+gw6+"]:8086", "dcos6")

	// A task asking for a taken host port fails, naming the holder, and
	// leaves no lease behind.
	td, err := nd.AddContainer("td")
	if err != nil {
		t.Fatal(err)
	}
	leases := len(nd.leases())
	_, err = iso.isolate("6a2b5c3e-0f1d-4e8a-9b7c-000000000004", td, "dcos", networkInfo("dcos", 8080, 80))
	if err == nil || !strings.Contains(err.Error(), `"code": 101`) || !strings.Contains(err.Error(), "already mapped by container "+tasks[0].id) {
		t.Errorf("isolate with a taken host port: %v, want code 101 naming %s", err, tasks[0].id)
	}
	if n := len(nd.leases()); n != leases {
		t.Errorf("leases after the refused task: %d, want %d", n, leases)
	}
	if err := iso.cleanup("6a2b5c3e-0f1d-4e8a-9b7c-000000000004", "dcos"); err != nil {
		t.Errorf("cleanup of the refused task: %v", err)
	}

	// Normal cleanup of the dcos and mesos-bridge tasks.
	for _, tk := range []*task{tasks[0], tasks[2]} {
		if err := iso.cleanup(tk.id, tk.network); err != nil {
			t.Fatalf("cleanup %s: %v", tk.id, err)
		}
	}
	// A reboot: the netns handle and the container are gone, and so is the
	// kernel state; Mesos then cleans up the dcos6 task without CNI_NETNS.
	iso.unmountNS(tasks[1].id)
	if err := tasks[1].c.Delete(); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"ip", "ip6"} {
		_, _ = nd.Run(context.Background(), "nft", "delete", "table", fam, "dcnet-portmap")
	}
	if err := iso.cleanup(tasks[1].id, tasks[1].network); err != nil {
		t.Fatalf("cleanup after a reboot: %v", err)
	}
	// Its host port is free again.
	te, err := nd.AddContainer("te")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iso.isolate("6a2b5c3e-0f1d-4e8a-9b7c-000000000005", te, "dcos6", networkInfo("dcos6", 8086, 80)); err != nil {
		t.Fatalf("host port of the task cleaned up after the reboot: %v", err)
	}
	if err := iso.cleanup("6a2b5c3e-0f1d-4e8a-9b7c-000000000005", "dcos6"); err != nil {
		t.Fatal(err)
	}
	if as := nd.leases(); len(as) != 0 {
		t.Errorf("leases left: %+v", as)
	}
	if entries, _ := os.ReadDir(iso.rootDir); len(entries) != 0 {
		t.Errorf("isolator root dir not empty: %v", entries)
	}
	if after := rulesetIn(t, nd.Namespace); !slices.Equal(before, after) {
		t.Errorf("rules left on the node:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// rulesetIn is the namespace's normalised rules (netsim.Namespace.Rules).
func rulesetIn(t *testing.T, n netsim.Namespace) []string {
	t.Helper()
	out, err := n.Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantDial fails t unless a TCP dial from n to addr reaches the server
// that answers name.
func wantDial(t *testing.T, what string, n netsim.Namespace, addr, name string) {
	t.Helper()
	counts, err := netsim.DialCount(n, 1, addr, 3*time.Second)
	if err != nil || counts[name] != 1 {
		t.Errorf("%s: dial %s from %s: %v, %v; want %q", what, addr, n.NSName, counts, err, name)
	}
}
