package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// binDir holds the binaries built once by TestMain.
var binDir string

// binaries built for the tests: main packages of this module and tools pinned in go.mod.
var binaries = []string{
	"./overlayd/cmd/overlayd", "./plugins/cmd/dcnet", "./plugins/cmd/dcnet-portmap", "./l4lb/cmd/dcnet-l4lb", "./plugins/cmd/dcnet-ipam", "./ctl/cmd/dcnetctl", "./dns/cmd/dcnet-dns",
	"./plugins/cmd/dcnet-vipaccess",
	"github.com/containernetworking/cni/cnitool",
	"github.com/containernetworking/plugins/plugins/main/bridge",
	"github.com/containernetworking/plugins/plugins/ipam/host-local",
	"github.com/containernetworking/plugins/plugins/meta/portmap",
}

// TestMain builds the binaries once when the privileged tests can run.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() && netsim.CheckPrivileged() == nil {
		dir, err := os.MkdirTemp("", "dcnet-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, binaries...)...)
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build binaries: %v\n%s", err, out)
			os.Exit(1)
		}
		binDir = dir
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "../.."))
}

func bin(name string) string { return filepath.Join(binDir, name) }

// node is a simulated node running overlayd.
type node struct {
	*netsim.Node
	t       *testing.T
	dir     string
	od      *clustersim.Overlayd
	client  *api.Client // od.API
	socket  string      // od.Socket()
	confDir string      // CNI config dir for cnitool
	cni     clustersim.CNITool
}

// startNode creates a node on f and starts overlayd on it with cfg (JSON, "" = defaults).
func startNode(t *testing.T, f *netsim.Fabric, name, cfg string, extra ...string) *node {
	t.Helper()
	n, err := f.AddNode(name)
	if err != nil {
		t.Fatal(err)
	}
	nd := prepareNode(t, n, cfg, extra...)
	nd.start()
	return nd
}

// prepareNode writes a node's overlayd and CNI configs without starting it.
func prepareNode(t *testing.T, n *netsim.Node, cfg string, extra ...string) *node {
	t.Helper()
	dir := t.TempDir()
	od := clustersim.NewOverlayd(clustersim.ForTest(t), n, bin("overlayd"), dir)
	od.Extra = extra
	nd := &node{Node: n, t: t, dir: dir, od: od, client: od.API, socket: od.Socket(), confDir: filepath.Join(dir, "cni")}
	nd.cni = clustersim.CNITool{Bin: bin("cnitool"), CNIPath: binDir, ConfDir: nd.confDir}
	if cfg != "" {
		od.Config = filepath.Join(dir, "overlayd.json")
		if err := os.WriteFile(od.Config, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nd.writeConf("10-dcos.conflist", fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","plugins":[{"type":"dcnet","socket":%q}]}`, nd.socket))
	return nd
}

func (n *node) writeConf(name, body string) {
	n.t.Helper()
	if err := os.MkdirAll(n.confDir, 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.confDir, name), []byte(body), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// start runs overlayd and waits until its first network has a subnet.
func (n *node) start() {
	n.t.Helper()
	n.launch()
	n.waitReady()
}

// launch starts overlayd without waiting.
func (n *node) launch() {
	n.t.Helper()
	if err := n.od.Launch(); err != nil {
		n.t.Fatal(err)
	}
}

// waitReady waits until overlayd serves and its first network has a subnet.
func (n *node) waitReady() {
	n.t.Helper()
	if _, err := n.od.WaitReady(context.Background(), 30*time.Second); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) leases() []api.Attachment {
	n.t.Helper()
	as, err := n.client.Attachments(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	return as
}

// cnitool runs cnitool inside the node netns and returns its output.
func (n *node) cnitool(args ...string) (string, error) {
	return n.cni.Run(context.Background(), n.Namespace, args...)
}

// container creates container name on the node.
func (n *node) container(name string) *netsim.Container {
	n.t.Helper()
	c, err := n.AddContainer(name)
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

// cniAdd attaches container c to the CNI network netName with cnitool.
func (n *node) cniAdd(c *netsim.Container, netName string) attached {
	n.t.Helper()
	a, err := n.cni.Add(context.Background(), n.Namespace, netName, c.Path)
	if err != nil {
		n.t.Fatalf("cnitool add %s on %s: %v", netName, n.Name, err)
	}
	return attached{Container: c, ip4: a.IP4, ip6: a.IP6}
}

// pluginResult is what one exec of a plugin printed and how it exited.
type pluginResult struct {
	Stdout   string
	Stderr   string
	ExitCode int
}

// cniError decodes a CNI error object from stdout.
func (r pluginResult) cniError() (code int, msg string, ok bool) {
	var e struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	if json.Unmarshal([]byte(r.Stdout), &e) != nil || e.Code == 0 {
		return 0, "", false
	}
	return e.Code, e.Msg, true
}

// execPlugin runs a plugin binary as a runtime does, inside the node netns.
func (n *node) execPlugin(plugin, command, containerID, netns, ifName, conf string) pluginResult {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := n.Exec(ctx, bin(plugin))
	cmd.Env = append(os.Environ(), "CNI_COMMAND="+command, "CNI_CONTAINERID="+containerID, "CNI_NETNS="+netns,
		"CNI_IFNAME="+ifName, "CNI_PATH="+binDir)
	cmd.Stdin = strings.NewReader(conf)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		se.WriteString(err.Error())
	}
	return pluginResult{Stdout: so.String(), Stderr: se.String(), ExitCode: code}
}

// bridgePorts lists the links enslaved to a bridge in the node.
func (n *node) bridgePorts(bridge string) []string {
	n.t.Helper()
	out, err := n.Run(context.Background(), "ip", "-o", "link", "show", "master", bridge)
	if err != nil {
		return nil
	}
	var ports []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			ports = append(ports, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
		}
	}
	return ports
}

// ping runs one ping from a namespace and reports success.
func ping(ns netsim.Namespace, dst string) error {
	out, err := ns.Run(context.Background(), "ping", "-c1", "-W2", dst)
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v\n%s", dst, ns.NSName, err, out)
	}
	return nil
}

// setup makes a guarded fabric with one overlayd node.
func setup(t *testing.T, prefix, cfg string) (*netsim.Fabric, *node) {
	t.Helper()
	netsim.Privileged(t, "ping", "iptables")
	f := netsim.NewFabric(t, prefix)
	return f, startNode(t, f, "node1", cfg)
}
