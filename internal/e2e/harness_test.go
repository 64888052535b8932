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

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// binDir holds the binaries built once by TestMain.
var binDir string

// binaries built for the tests: main packages of this module and tools pinned in go.mod.
var binaries = []string{
	"./overlayd/cmd/overlayd", "./plugins/cmd/dcnet", "./l4lb/cmd/dcnet-l4lb", "./plugins/cmd/dcnet-ipam", "./ctl/cmd/dcnetctl", "./dns/cmd/dcnet-dns",
	"github.com/containernetworking/cni/cnitool",
	"github.com/containernetworking/plugins/plugins/main/bridge",
	"github.com/containernetworking/plugins/plugins/ipam/host-local",
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
	t        *testing.T
	dir      string
	cfgPath  string
	proc     *netsim.Process
	client   *api.Client
	confDir  string // CNI config dir for cnitool
	socket   string
	restarts int
	extra    []string // more overlayd flags
	log      string   // current overlayd log
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
	nd := &node{Node: n, t: t, dir: dir, socket: filepath.Join(dir, "run", "overlayd.sock"), confDir: filepath.Join(dir, "cni"), extra: extra}
	if cfg != "" {
		nd.cfgPath = filepath.Join(dir, "overlayd.json")
		if err := os.WriteFile(nd.cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nd.client = api.NewClient(nd.socket)
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
	argv := []string{bin("overlayd"), "--node-name", n.Name, "--underlay-ip", n.UnderlayIP.String(),
		"--run-dir", filepath.Join(n.dir, "run"), "--state-dir", filepath.Join(n.dir, "state"), "--metrics-addr", ""}
	if n.cfgPath != "" {
		argv = append(argv, "--config", n.cfgPath)
	}
	argv = append(argv, n.extra...)
	n.log = filepath.Join(n.dir, fmt.Sprintf("overlayd-%d.log", n.restarts))
	n.restarts++
	n.proc = netsim.StartProcessT(n.t, n.Node, n.log, argv...)
}

// waitReady waits until overlayd serves and its first network has a subnet.
func (n *node) waitReady() {
	n.t.Helper()
	err := netsim.WaitFor(context.Background(), 30*time.Second, 20*time.Millisecond, func() error {
		ns, err := n.client.Networks(context.Background())
		if err != nil {
			return err
		}
		if ns[0].NodeSubnet == "" && ns[0].NodeSubnet6 == "" {
			return fmt.Errorf("no subnet yet")
		}
		return nil
	})
	if err != nil {
		out, _ := os.ReadFile(n.log)
		n.t.Fatalf("overlayd on %s not ready: %v\n%s", n.Name, err, out)
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

// cnitool runs cnitool inside the node netns.
func (n *node) cnitool(args ...string) (string, error) {
	cmd := n.Exec(context.Background(), append([]string{bin("cnitool")}, args...)...)
	cmd.Env = append(os.Environ(), "CNI_PATH="+binDir, "NETCONFPATH="+n.confDir)
	out, err := cmd.CombinedOutput()
	return string(out), err
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
