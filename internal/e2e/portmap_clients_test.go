package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/netsim"
)

// portmapList is a conflist of dcnet then dcnet-portmap, both taking the
// portMappings capability (dcnet records the mappings in the endpoint).
func portmapList(socket, state string) string {
	return fmt.Sprintf(`{"cniVersion":"1.0.0","name":"dcos","plugins":[
	  {"type":"dcnet","socket":%q,"capabilities":{"portMappings":true}},
	  {"type":"dcnet-portmap","stateDir":%q,"capabilities":{"portMappings":true}}]}`, socket, state)
}

// portmapNode is a node with overlayd, the conflist for cnitool and a
// client node to dial host ports from.
func portmapNode(t *testing.T, prefix string) (*node, *netsim.Node, string) {
	t.Helper()
	f, nd := setup(t, prefix, "")
	netsim.RequireCommands(t, "nft")
	client, err := f.AddNode("client")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(nd.dir, "portmap")
	nd.writeConf("10-dcos.conflist", portmapList(nd.socket, state))
	return nd, client, state
}

// tablesGone fails t when dcnet-portmap's tables are still on the node.
func tablesGone(t *testing.T, nd *node) {
	t.Helper()
	if out, _ := nd.Run(context.Background(), "nft", "list", "tables"); strings.Contains(out, "dcnet-portmap") {
		t.Errorf("dcnet-portmap tables left after the last DEL:\n%s", out)
	}
}

// TestPrivilegedPortmapCnitool: cnitool with CAP_ARGS maps a host port of
// a dcnet container (reached from another node and from the node), CHECK
// passes, DEL (twice) removes the mapping and the tables.
func TestPrivilegedPortmapCnitool(t *testing.T) {
	nd, client, _ := portmapNode(t, "epmcni")
	c, err := nd.AddContainer("web")
	if err != nil {
		t.Fatal(err)
	}
	capArgs := `CAP_ARGS={"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}`
	run := func(args ...string) string {
		t.Helper()
		cmd := nd.Exec(context.Background(), append([]string{bin("cnitool")}, args...)...)
		cmd.Env = append(os.Environ(), "CNI_PATH="+binDir, "NETCONFPATH="+nd.confDir, capArgs)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cnitool %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("add", "dcos", c.Path)
	netsim.ServeName(t, c.Namespace, ":80", "web")
	wantDial(t, "cnitool container from another node", client.Namespace, nd.UnderlayIP.String()+":8080", "web")
	wantDial(t, "cnitool container from its node", nd.Namespace, nd.UnderlayIP.String()+":8080", "web")
	if as := nd.leases(); len(as) != 1 || len(as[0].PortMappings) != 1 || as[0].PortMappings[0].HostPort != 8080 {
		t.Errorf("overlayd's record: %+v, want the mapping 8080->80", as)
	}
	run("check", "dcos", c.Path)
	run("del", "dcos", c.Path)
	run("del", "dcos", c.Path)
	tablesGone(t, nd)
}

// TestPrivilegedPortmapLibcni drives the conflist with libcni in process
// (ADD, CHECK, GC that keeps the live container and drops a gone one,
// DEL) and checks that a second container cannot take the same host port.
func TestPrivilegedPortmapLibcni(t *testing.T) {
	nd, client, _ := portmapNode(t, "epmlib")
	list, err := libcni.ConfListFromBytes([]byte(portmapList(nd.socket, filepath.Join(nd.dir, "portmap"))))
	if err != nil {
		t.Fatal(err)
	}
	cni := libcni.NewCNIConfigWithCacheDir([]string{binDir}, t.TempDir(), nil)
	ctx := context.Background()
	rt := func(id string, c *netsim.Container, port int) *libcni.RuntimeConf {
		return &libcni.RuntimeConf{ContainerID: id, NetNS: c.Path, IfName: "eth0", CapabilityArgs: map[string]any{
			"portMappings": []map[string]any{{"hostPort": port, "containerPort": 80, "protocol": "tcp"}}}}
	}
	var a, b *netsim.Container
	for _, name := range []string{"a", "b"} {
		c, err := nd.AddContainer(name)
		if err != nil {
			t.Fatal(err)
		}
		netsim.ServeName(t, c.Namespace, ":80", name)
		if name == "a" {
			a = c
		} else {
			b = c
		}
	}
	err = nd.Do(func(ns.NetNS) error {
		if _, err := cni.AddNetworkList(ctx, list, rt("a", a, 8081)); err != nil {
			return fmt.Errorf("ADD a: %w", err)
		}
		if _, err := cni.AddNetworkList(ctx, list, rt("b", b, 8081)); err == nil || !strings.Contains(err.Error(), "already mapped by container a") {
			return fmt.Errorf("ADD b on a's host port: %v, want a conflict naming a", err)
		}
		// A runtime deletes what a failed ADD of a list left (dcnet's interface).
		if err := cni.DelNetworkList(ctx, list, rt("b", b, 8081)); err != nil {
			return fmt.Errorf("DEL b after its failed ADD: %w", err)
		}
		if _, err := cni.AddNetworkList(ctx, list, rt("b", b, 8082)); err != nil {
			return fmt.Errorf("ADD b: %w", err)
		}
		return cni.CheckNetworkList(ctx, list, rt("a", a, 8081))
	})
	if err != nil {
		t.Fatal(err)
	}
	wantDial(t, "libcni container a", client.Namespace, nd.UnderlayIP.String()+":8081", "a")
	wantDial(t, "libcni container b", client.Namespace, nd.UnderlayIP.String()+":8082", "b")
	// GC with only a alive: b's host port and lease go.
	err = nd.Do(func(ns.NetNS) error {
		return cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: "a", IfName: "eth0"}}})
	})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	if counts, err := netsim.DialCount(client.Namespace, 1, nd.UnderlayIP.String()+":8082", time.Second); err == nil {
		t.Errorf("b's host port answers after GC: %v", counts)
	}
	wantDial(t, "a after GC", client.Namespace, nd.UnderlayIP.String()+":8081", "a")
	if err := nd.Do(func(ns.NetNS) error { return cni.DelNetworkList(ctx, list, rt("a", a, 8081)) }); err != nil {
		t.Fatal(err)
	}
	tablesGone(t, nd)
}

// TestPrivilegedPortmapPodman runs podman 4.3 with its CNI backend on the
// node: `podman run -p 8088:80` on the dcnet conflist publishes the port
// through dcnet-portmap, `podman port` shows it, another node reaches it,
// and `podman rm` removes it; the host's namespace and firewall stay as
// they were (the host guard of setup).
func TestPrivilegedPortmapPodman(t *testing.T) {
	netsim.RequireCommands(t, "podman", "runc", "nsenter", "busybox")
	nd, client, _ := portmapNode(t, "epmpod")
	dir := t.TempDir()
	netDir := filepath.Join(dir, "net.d")
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{netDir, filepath.Join(rootfs, "bin"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	busybox, _ := exec.LookPath("busybox")
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "bin", "answer"), []byte("#!/bin/busybox sh\necho -n podman\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(netDir, "10-dcos.conflist"), []byte(portmapList(nd.socket, filepath.Join(nd.dir, "portmap"))), 0o644))
	conf := filepath.Join(dir, "containers.conf")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf("[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [%q]\nnetwork_config_dir = %q\n"+
		"[engine]\nevents_logger = \"file\"\nevents_logfile_path = %q\n", binDir, netDir, filepath.Join(dir, "events.log"))), 0o644))
	storage := filepath.Join(dir, "storage.conf")
	must(t, os.WriteFile(storage, []byte(fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "graph"), filepath.Join(dir, "run"))), 0o644))
	podman := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		argv := append([]string{"--net=" + nd.Path, "podman", "--root", filepath.Join(dir, "graph"), "--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"), "--runtime", "runc", "--cgroup-manager=cgroupfs", "--events-backend", "file"}, args...)
		cmd := exec.CommandContext(ctx, "nsenter", argv...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf, "CONTAINERS_STORAGE_CONF="+storage)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { _, _ = podman("rm", "-f", "-a") })
	out, err := podman("run", "-d", "--name", "web", "--network", "dcos", "-p", "8088:80",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--rootfs", rootfs,
		"/bin/busybox", "nc", "-ll", "-p", "80", "-e", "/bin/answer")
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	if out, err := podman("port", "web"); err != nil || !strings.Contains(out, "80/tcp -> 0.0.0.0:8088") {
		t.Errorf("podman port web: %v %q, want 80/tcp -> 0.0.0.0:8088", err, out)
	}
	hostPort := nd.UnderlayIP.String() + ":8088"
	var got map[string]int
	err = netsim.WaitFor(context.Background(), 15*time.Second, 200*time.Millisecond, func() error {
		var err error
		got, err = netsim.DialCount(client.Namespace, 1, hostPort, 2*time.Second)
		if err == nil && got["podman"] != 1 {
			err = fmt.Errorf("answers %v", got)
		}
		return err
	})
	if err != nil {
		t.Errorf("dial %s from another node: %v; want the podman container's answer", hostPort, err)
	}
	wantDial(t, "podman container from its node", nd.Namespace, hostPort, "podman")
	if as := nd.leases(); len(as) != 1 || len(as[0].PortMappings) != 1 {
		t.Errorf("overlayd's record of the podman container: %+v", as)
	}
	if out, err := podman("rm", "-f", "web"); err != nil {
		t.Fatalf("podman rm: %v\n%s", err, out)
	}
	if as := nd.leases(); len(as) != 0 {
		t.Errorf("leases after podman rm: %+v", as)
	}
	tablesGone(t, nd)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
