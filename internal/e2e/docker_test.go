package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cnm"
	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedDockerOverlay: two nodes with overlayd against one etcd,
// dcnet-cnm and a private dockerd on each (cnm/cnmtest). Containers started
// with `docker run --network dcos` reach each other across nodes and a CNI
// container, carry their --driver-opt labels in overlayd's records, come
// back with connectivity after a dockerd restart (--restart always), and
// survive a SIGKILLed plugin and a plugin that lost its state, with no
// address leaked.
func TestPrivilegedDockerOverlay(t *testing.T) {
	requireDocker(t)
	_, nodes, _, _ := agents(t, "edkr", 2, "")
	a, b := startDocker(t, nodes[0]), startDocker(t, nodes[1])
	a.createNetwork()
	b.createNetwork()
	a.createNetwork() // idempotent

	// One server per node; the first with a VIP label and a task name.
	a.mustDocker("run", "-d", "--name", "s1", "--network", "name=dcos,driver-opt=VIP_0=/web:80,driver-opt=dcnet.task=web",
		probeImage, "serve", ":7000")
	b.mustDocker("run", "-d", "--name", "s2", "--network", "dcos", probeImage, "serve", ":7000")
	ip1, ip2 := a.ip("s1"), b.ip("s2")
	t.Logf("s1 %s on %s, s2 %s on %s", ip1, a.Name, ip2, b.Name)

	t.Run("cross-node", func(t *testing.T) {
		if err := a.dial(ip2 + ":7000"); err != nil {
			t.Error(err)
		}
		if err := b.dial(ip1 + ":7000"); err != nil {
			t.Error(err)
		}
		if err := a.dial(ip1 + ":7000"); err != nil { // same node, same bridge
			t.Error(err)
		}
	})

	t.Run("cni-container", func(t *testing.T) {
		c := attach(t, nodes[0], "cni")
		for _, dst := range []string{ip1, ip2} {
			if err := ping(c.Namespace, dst); err != nil {
				t.Error(err)
			}
		}
		probe := buildProbe(t)
		cmd := c.Exec(context.Background(), probe, "serve", ":7001")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		if err := b.dial(c.ip4 + ":7001"); err != nil {
			t.Errorf("docker on %s -> CNI container on %s: %v", b.Name, a.Name, err)
		}
	})

	t.Run("labels", func(t *testing.T) {
		att, ok := a.attachment(ip1)
		if !ok {
			t.Fatalf("no attachment for %s in %v", ip1, a.leases())
		}
		// The docker CLI lower-cases --network driver-opt keys; l4lb
		// takes VIP and vip alike.
		vip := att.Labels["VIP_0"] + att.Labels["vip_0"]
		if vip != "/web:80" || att.Labels[cnm.LabelTask] != "web" || att.Config != cnm.ConfigName("dcos") {
			t.Errorf("attachment of s1: %s", jsonString(att))
		}
		// docker network connect --driver-opt adds an endpoint with labels.
		a.mustDocker("network", "disconnect", "dcos", "s1")
		a.mustDocker("network", "connect", "--driver-opt", "VIP_1=1.2.3.4:8080", "dcos", "s1")
		ip1 = a.ip("s1")
		att, _ = a.attachment(ip1)
		if att.Labels["VIP_1"]+att.Labels["vip_1"] != "1.2.3.4:8080" {
			t.Errorf("attachment of s1 after network connect: %s", jsonString(att))
		}
		if err := b.dial(ip1 + ":7000"); err != nil {
			t.Errorf("s1 after disconnect/connect: %v", err)
		}
		a.checkNoLeak()
		b.checkNoLeak()
	})

	t.Run("dockerd-restart", func(t *testing.T) {
		a.mustDocker("run", "-d", "--restart", "always", "--name", "r1", "--network", "dcos", probeImage, "serve", ":7000")
		if err := a.d.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := a.d.Start(); err != nil {
			t.Fatal(err)
		}
		err := netsim.WaitFor(context.Background(), 30*time.Second, 200*time.Millisecond, func() error {
			if st, err := a.docker("inspect", "-f", "{{.State.Running}}", "r1"); err != nil || st != "true" {
				return fmt.Errorf("r1 not running: %s %v", st, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ipr := a.ip("r1")
		if err := b.dial(ipr + ":7000"); err != nil {
			t.Errorf("r1 after dockerd restart: %v", err)
		}
		a.checkNoLeak()
	})

	t.Run("plugin-kill", func(t *testing.T) {
		if err := a.plugin.Kill9(); err != nil {
			t.Fatal(err)
		}
		a.startPlugin()
		a.checkNoLeak()
		if err := a.dial(ip2 + ":7000"); err != nil {
			t.Errorf("docker run after plugin restart: %v", err)
		}
		a.checkNoLeak()
	})

	t.Run("plugin-lost-state", func(t *testing.T) {
		// A plugin that never saw the network: dockerd replays nothing,
		// the restarted container's CreateEndpoint and Join must work.
		if err := a.plugin.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(a.stateDir); err != nil {
			t.Fatal(err)
		}
		a.startPlugin()
		a.mustDocker("restart", "-t", "1", "r1")
		if err := b.dial(a.ip("r1") + ":7000"); err != nil {
			t.Errorf("r1 restarted on a plugin without state: %v", err)
		}
		if err := a.dial(ip2 + ":7000"); err != nil {
			t.Errorf("docker run on a plugin without state: %v", err)
		}
		a.checkNoLeak()
	})

	// Everything released when the containers go.
	a.mustDocker("rm", "-f", "s1", "r1")
	b.mustDocker("rm", "-f", "s2")
	a.checkNoLeak()
	b.checkNoLeak()
	if ports := a.bridgePorts("m-dcos"); len(ports) != 1 { // the CNI container's
		t.Errorf("bridge ports left on %s: %v", a.Name, ports)
	}
}

// TestPrivilegedDockerBadInput: unknown and malformed options fail `docker
// network create` with a message naming the option, garbage JSON on the
// plugin socket gets a 500 with Err, and a second network on the overlay's
// pool, or an overlapping --subnet, is refused clearly.
func TestPrivilegedDockerBadInput(t *testing.T) {
	requireDocker(t)
	_, nd := setup(t, "edkb", "")
	dn := startDocker(t, nd)
	nets, err := nd.client.Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	subnet := nets[0].NodeSubnet
	create := "network create -d dcnet --ipam-driver dcnet --subnet " + subnet
	if out, err := dn.docker("network", "create", "-d", "dcnet", "--ipam-driver", "dcnet", "x0"); err == nil || !strings.Contains(out, "pass --subnet "+subnet) {
		t.Errorf("network without --subnet: want a refusal naming the subnet, got %v: %s", err, out)
	}
	for _, c := range []struct{ args, want string }{
		{create + " -o bogus=1 x1", `unknown option "bogus"`},
		{create + " -o dcnet.overlay=no/such x2", "dcnet.overlay"},
		{create + " -o VIP_0=web x3", "VIP_0"},
		{create + " -o dcnet.overlay=nope x4", `overlay "nope"`},
		{"network create -d dcnet --ipam-driver dcnet --subnet 9.0.0.0/8 x5", "overlaps node subnet"},
		{create + " --ipam-opt dcnet.bogus=1 x6", `"dcnet.bogus"`},
	} {
		out, err := dn.docker(strings.Fields(c.args)...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("docker %s: want failure naming %q, got %v: %s", c.args, c.want, err, out)
		}
	}
	dn.createNetwork()
	out, err := dn.docker(strings.Fields(create + " dcos2")...)
	if err == nil || !strings.Contains(out, "already used by Docker network") {
		t.Errorf("second network on the overlay: want refusal, got %v: %s", err, out)
	}
	// The refused attempts left no pool references or addresses behind.
	if ls := dn.mustDocker("network", "ls", "--filter", "driver=dcnet", "--format", "{{.Name}}"); ls != "dcos" {
		t.Errorf("dcnet networks: %q", ls)
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", dn.pluginSocket())
		}}}
	for _, path := range []string{"/NetworkDriver.CreateNetwork", "/IpamDriver.RequestAddress", "/NetworkDriver.Join"} {
		resp, err := client.Post("http://plugin"+path, "application/json", strings.NewReader("{garbage"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(string(body), `{"Err":"dcnet: `) {
			t.Errorf("garbage to %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// The plugin still works.
	dn.mustDocker("run", "--rm", "--network", "dcos", probeImage, "true")
	dn.checkNoLeak()
}

// buildProbe builds the probe for the host (to run in a CNI container).
func buildProbe(t *testing.T) string {
	t.Helper()
	out := bin("probe")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := execGo("build", "-o", out, "./cnm/internal/probe")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, b)
	}
	return out
}
