package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cnm/cnmtest"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// dockerTimeout bounds one docker CLI command.
const dockerTimeout = 40 * time.Second

// probeImage is the FROM scratch image of cnm/internal/probe.
const probeImage = "dcnet-e2e-probe"

var (
	cnmOnce sync.Once
	cnmErr  error
)

// requireDocker skips without dockerd and the docker CLI and builds
// dcnet-cnm into binDir once.
func requireDocker(t *testing.T) {
	t.Helper()
	netsim.Privileged(t, "dockerd", "docker", "containerd", "nsenter", "unshare")
	cnmOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin("dcnet-cnm"), "./cnm/cmd/dcnet-cnm")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			cnmErr = fmt.Errorf("build dcnet-cnm: %v\n%s", err, out)
		}
	})
	if cnmErr != nil {
		t.Fatal(cnmErr)
	}
}

// dockerNode is a node with overlayd, dcnet-cnm and a private dockerd.
type dockerNode struct {
	*node
	d        *cnmtest.Dockerd
	plugin   *cnmtest.Proc
	stateDir string
	pstarts  int
}

// startDocker starts dcnet-cnm and dockerd on nd and builds the probe image.
func startDocker(t *testing.T, nd *node) *dockerNode {
	t.Helper()
	d, err := cnmtest.NewDockerd(netsim.NSPath(nd.NSName))
	if err != nil {
		t.Fatal(err)
	}
	dn := &dockerNode{node: nd, d: d, stateDir: filepath.Join(nd.dir, "cnm-state")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dockerd on %s:\n%s", nd.Name, cnmtest.Tail(d.LogPath(), 60))
			if dn.plugin != nil {
				t.Logf("dcnet-cnm on %s:\n%s", nd.Name, cnmtest.Tail(dn.plugin.Log, 60))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// Containers first, so that dockerd's own shutdown is quick.
		if ids, err := d.Docker(ctx, "ps", "-aq"); err == nil && ids != "" {
			d.Docker(ctx, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		if err := d.Close(); err != nil {
			t.Errorf("dockerd on %s: %v", nd.Name, err)
		}
		if dn.plugin != nil {
			if err := dn.plugin.Stop(10 * time.Second); err != nil {
				t.Errorf("dcnet-cnm on %s: %v", nd.Name, err)
			}
		}
	})
	dn.startPlugin()
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.BuildProbeImage(ctx, repoRoot(), probeImage); err != nil {
		t.Fatal(err)
	}
	return dn
}

func (dn *dockerNode) pluginSocket() string {
	return filepath.Join(dn.d.PluginDir, cnmtest.PluginName+".sock")
}

// startPlugin starts dcnet-cnm in the node's netns and waits for its socket.
func (dn *dockerNode) startPlugin() {
	dn.t.Helper()
	dn.pstarts++
	log := filepath.Join(dn.dir, fmt.Sprintf("cnm-%d.log", dn.pstarts))
	p, err := cnmtest.Start(netsim.NSPath(dn.NSName), log, bin("dcnet-cnm"), "--socket", dn.pluginSocket(),
		"--overlayd-socket", dn.socket, "--state-dir", dn.stateDir, "--log-level", "debug",
		"--portmap", bin("dcnet-portmap"), "--portmap-state-dir", filepath.Join(dn.dir, "portmap"))
	if err != nil {
		dn.t.Fatal(err)
	}
	dn.plugin = p
	err = netsim.WaitFor(context.Background(), 10*time.Second, 20*time.Millisecond, func() error {
		_, err := os.Stat(dn.pluginSocket())
		return err
	})
	if err != nil {
		dn.t.Fatalf("dcnet-cnm on %s: %v\n%s", dn.Name, err, cnmtest.Tail(log, 20))
	}
}

// docker runs the docker CLI against the node's dockerd (bounded).
func (dn *dockerNode) docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	return dn.d.Docker(ctx, args...)
}

func (dn *dockerNode) mustDocker(args ...string) string {
	dn.t.Helper()
	out, err := dn.docker(args...)
	if err != nil {
		dn.t.Fatalf("%s: %v", dn.Name, err)
	}
	return out
}

// createNetwork creates the dcos network with scripts/create-dcos-network.sh
// (env: more of its variables, NETWORK=dcos6 ...).
func (dn *dockerNode) createNetwork(env ...string) {
	dn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(), "scripts", "create-dcos-network.sh"))
	cmd.Env = append(append(os.Environ(), "DOCKER_HOST=unix://"+dn.d.Socket, "DCNETCTL="+bin("dcnetctl"), "OVERLAYD_SOCKET="+dn.socket), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		dn.t.Fatalf("create-dcos-network.sh on %s: %v\n%s", dn.Name, err, out)
	}
}

// ip returns a container's address on network dcos.
func (dn *dockerNode) ip(name string) string {
	dn.t.Helper()
	return dn.mustDocker("inspect", "-f", "{{.NetworkSettings.Networks.dcos.IPAddress}}", name)
}

// dial runs a throw-away container on dcos that connects to addr.
func (dn *dockerNode) dial(addr string) error {
	out, err := dn.docker("run", "--rm", "--network", "dcos", probeImage, "dial", addr)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(out, "hello from ") {
		return fmt.Errorf("dial %s from %s: unexpected answer %q", addr, dn.Name, out)
	}
	return nil
}

// dockerLeases returns the node's Docker attachments as sorted "ip labels" lines.
func (dn *dockerNode) dockerLeases() []string {
	dn.t.Helper()
	var out []string
	for _, a := range dn.leases() {
		if a.Runtime == api.RuntimeDocker {
			out = append(out, strings.Split(a.IPs[0].Address, "/")[0])
		}
	}
	sort.Strings(out)
	return out
}

// runningIPs returns the dcos addresses of the running containers, sorted.
func (dn *dockerNode) runningIPs() []string {
	dn.t.Helper()
	ids := strings.Fields(dn.mustDocker("ps", "-q", "--filter", "network=dcos"))
	var out []string
	for _, id := range ids {
		out = append(out, dn.ip(id))
	}
	sort.Strings(out)
	return out
}

// checkNoLeak checks that overlayd's Docker attachments are exactly the
// running containers' addresses (waiting briefly for dockerd's releases).
func (dn *dockerNode) checkNoLeak() {
	dn.t.Helper()
	err := netsim.WaitFor(context.Background(), 10*time.Second, 100*time.Millisecond, func() error {
		leases, running := dn.dockerLeases(), dn.runningIPs()
		if strings.Join(leases, " ") != strings.Join(running, " ") {
			return fmt.Errorf("%s: overlayd has docker attachments %v, running containers have %v", dn.Name, leases, running)
		}
		return nil
	})
	if err != nil {
		dn.t.Fatal(err)
	}
}

// attachment returns the overlayd attachment holding ip.
func (dn *dockerNode) attachment(ip string) (api.Attachment, bool) {
	for _, a := range dn.leases() {
		for _, c := range a.IPs {
			if strings.Split(c.Address, "/")[0] == ip {
				return a, true
			}
		}
	}
	return api.Attachment{}, false
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// execGo returns a go command run at the repository root with CGO off.
func execGo(args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}
