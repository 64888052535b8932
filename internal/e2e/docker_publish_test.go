package e2e

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedDockerPublish: `docker run -p 8080:7000` on the dcnet
// network publishes the port through dcnet-portmap (reached from another
// node, from the node itself and from another Docker container), the
// binding shows in `docker inspect`, a CNI container
// cannot take the same host port, and `docker rm` removes the mapping.
func TestPrivilegedDockerPublish(t *testing.T) {
	requireDocker(t)
	f, nodes, _, _ := agents(t, "edpub", 1, "")
	nd := nodes[0]
	dn := startDocker(t, nd)
	dn.createNetwork()
	client, err := f.AddNode("client")
	if err != nil {
		t.Fatal(err)
	}
	dn.mustDocker("run", "-d", "--name", "web", "--network", "dcos", "-p", "8080:7000", probeImage, "serve", ":7000")
	// dockerd (20.10) builds `docker port` from a driver's EndpointOperInfo
	// only when its portmap is a Go []types.PortBinding, which a remote
	// driver's JSON answer never is: the bindings show in the container's
	// HostConfig, and dcnet-cnm answers them in EndpointOperInfo for newer
	// dockerds.
	if out, err := dn.docker("inspect", "-f", "{{json .HostConfig.PortBindings}}", "web"); err != nil || !strings.Contains(out, `"HostPort":"8080"`) {
		t.Errorf("docker inspect web: %v %q, want the 7000/tcp -> 8080 binding", err, out)
	}
	hostPort := nd.UnderlayIP.String() + ":8080"
	for _, n := range []netsim.Namespace{client.Namespace, nd.Namespace} {
		if got, err := greet(n, hostPort); err != nil || !strings.HasPrefix(got, "hello from ") {
			t.Errorf("dial %s from %s: %q, %v; want the Docker container's greeting", hostPort, n.NSName, got, err)
		}
	}
	if err := dn.dial(hostPort); err != nil {
		t.Errorf("hairpin from a Docker container: %v", err)
	}
	// The same host port for a CNI container through the shared state: refused, naming the holder.
	c, err := nd.AddContainer("cni")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(portmapList(nd.socket, ""), `"stateDir":""`, `"stateDir":"`+dn.dir+`/portmap"`, 1)
	nd.writeConf("10-dcos.conflist", conf)
	cmd := nd.Exec(context.Background(), bin("cnitool"), "add", "dcos", c.Path)
	cmd.Env = append(cmd.Environ(), "CNI_PATH="+binDir, "NETCONFPATH="+nd.confDir, `CAP_ARGS={"portMappings":[{"hostPort":8080,"containerPort":80}]}`)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "already mapped by container") {
		t.Errorf("cnitool add on Docker's host port: %v %s, want a conflict", err, out)
	}
	dn.mustDocker("rm", "-f", "web")
	if _, err := greet(client.Namespace, hostPort); err == nil {
		t.Errorf("host port %s still answers after docker rm", hostPort)
	}
}

// greet dials addr from n and reads the probe's greeting.
func greet(n netsim.Namespace, addr string) (string, error) {
	var out string
	err := netsim.WaitFor(context.Background(), 10*time.Second, 200*time.Millisecond, func() error {
		return n.Do(func(ns.NetNS) error {
			c, err := (&netDialer).Dial("tcp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			b, err := io.ReadAll(c)
			out = string(b)
			return err
		})
	})
	return out, err
}

var netDialer = net.Dialer{Timeout: 2 * time.Second}
