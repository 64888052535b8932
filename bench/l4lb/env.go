package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

const (
	netsimPrefix = "bl4lb"
	// vipAddr:vipPort is the VIP under test, on both nodes.
	vipAddr    = "11.0.0.1"
	vipPort    = 80
	numBackend = 3
	cmdTimeout = 2 * time.Minute
)

// Namespace sysctls. The node's conntrack timeouts for closed TCP flows
// are cut so that a connection-per-request load does not pile up entries
// (the conntrack limit is machine-wide); the client gets a wide ephemeral
// port range and TIME_WAIT reuse. All are set inside the bench's own
// namespaces, never on the host.
var (
	nodeSysctls = []string{
		"net.ipv4.ip_forward=1",
		"net.netfilter.nf_conntrack_tcp_timeout_close=1",
		"net.netfilter.nf_conntrack_tcp_timeout_time_wait=1",
	}
	clientSysctls = []string{
		"net.ipv4.ip_local_port_range=1024 65000",
		"net.ipv4.tcp_tw_reuse=1",
	}
)

// side is one node netns with a client and three backends, each behind
// its own routed veth (9.0.<i>.2/24 behind the node's 9.0.<i>.1): the
// topology of l4lb/dataplane's privileged test. Both sides use the same
// addresses; only their node's rules differ.
type side struct {
	node     *netsim.Node
	client   *netsim.Container
	backends []netip.AddrPort
	load     *child
	servers  []*child
}

// env is the whole bench: the dcnet side (nftables table programmed by a
// dataplane.Syncer) and the kube-proxy side (iptables), plus helpers.
// The run's benchkit.Env (its temporary directory, fabric, processes and
// closers) removes all of it.
type env struct {
	*benchkit.Env
	dcnet  *side
	kp     *side
	kernel *dataplane.NFTables
	syncer *dataplane.Syncer
	// iptables is `iptables --version` of the kube-proxy node.
	iptables string
}

func setup(ctx context.Context, be *benchkit.Env) (e *env, err error) {
	e = &env{Env: be}
	if e.dcnet, err = e.addSide(ctx, "dcnet"); err != nil {
		return e, err
	}
	if e.kp, err = e.addSide(ctx, "kproxy"); err != nil {
		return e, err
	}
	nsFile, err := netns.GetFromPath(e.dcnet.node.Path)
	if err != nil {
		return e, fmt.Errorf("open netns %s: %w", e.dcnet.node.NSName, err)
	}
	e.OnClose(nsFile.Close)
	e.kernel = dataplane.NewNFTables(nftables.WithNetNSFd(int(nsFile)))
	e.syncer = dataplane.NewSyncer(e.kernel, nil)
	return e, nil
}

func (e *env) addSide(ctx context.Context, name string) (*side, error) {
	node, err := e.Fabric.AddNode(name)
	if err != nil {
		return nil, err
	}
	if err := sysctls(ctx, node.Namespace, nodeSysctls); err != nil {
		return nil, err
	}
	s := &side{node: node}
	for i, cname := range []string{"cli", "b1", "b2", "b3"} {
		c, err := node.AddContainer(cname)
		if err != nil {
			return nil, err
		}
		gw, addr := fmt.Sprintf("9.0.%d.1", i+1), fmt.Sprintf("9.0.%d.2", i+1)
		veth := "v" + cname
		for _, argv := range [][]string{
			{"ip", "-n", node.NSName, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", c.NSName},
			{"ip", "-n", node.NSName, "addr", "add", gw + "/24", "dev", veth},
			{"ip", "-n", node.NSName, "link", "set", veth, "up"},
			{"ip", "-n", c.NSName, "addr", "add", addr + "/24", "dev", "eth0"},
			{"ip", "-n", c.NSName, "link", "set", "eth0", "up"},
			{"ip", "-n", c.NSName, "route", "add", "default", "via", gw},
		} {
			if _, err := e.Fabric.Run(ctx, argv...); err != nil {
				return nil, err
			}
		}
		if cname == "cli" {
			s.client = c
			if err := sysctls(ctx, c.Namespace, clientSysctls); err != nil {
				return nil, err
			}
			if s.load, err = e.startChild(ctx, c.Namespace, name+"-load", false, roleLoad); err != nil {
				return nil, err
			}
			continue
		}
		srv, err := e.startChild(ctx, c.Namespace, name+"-"+cname, true, roleServe, fmt.Sprintf(":%d", vipPort))
		if err != nil {
			return nil, err
		}
		s.servers = append(s.servers, srv)
		s.backends = append(s.backends, netip.MustParseAddrPort(fmt.Sprintf("%s:%d", addr, vipPort)))
	}
	return s, nil
}

func (e *env) startChild(ctx context.Context, ns netsim.Namespace, name string, ready bool, role string, args ...string) (*child, error) {
	c, err := startChild(ctx, ns, name, ready, role, args...)
	if err != nil {
		return nil, err
	}
	e.OnClose(func() error {
		if err := c.stop(); err != nil && !isExitAfterStdinClose(err) {
			return err
		}
		return nil
	})
	return c, nil
}

// isExitAfterStdinClose tolerates a child that was killed by its pdeath
// signal or exited non-zero while shutting down.
func isExitAfterStdinClose(err error) bool {
	return err != nil && strings.Contains(err.Error(), "signal: killed")
}

// sysctls writes values inside ns (through /proc/sys of that namespace).
func sysctls(ctx context.Context, ns netsim.Namespace, kvs []string) error {
	for _, kv := range kvs {
		if _, err := ns.Run(ctx, "sysctl", "-qw", kv); err != nil {
			return err
		}
	}
	return nil
}
