package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// Names of the simulated cluster.
const (
	netsimPrefix  = "bpmap"
	clientName    = "client"
	dcnetNetwork  = "dcos"
	readyTimeout  = 90 * time.Second
	readyInterval = 100 * time.Millisecond
)

// setup is one plugin chain as the bench drives it through libcni.
type setup struct {
	Name string // "dcnet", "ref-iptables", "ref-nftables"
	List *libcni.NetworkConfigList
	// Single is the port-mapping plugin's config alone, with a prevResult
	// of address ip and runtimeConfig mappings maps, for loading mappings
	// without containers.
	Single func(ip string, maps []mapping) []byte
	Bin    string // the port-mapping plugin's binary
}

// benchNode is one simulated node with overlayd and the three chains: the
// run has one with no background mappings and one with 1,000 per chain,
// measured interleaved so that both see the same moments of a shared
// machine.
type benchNode struct {
	*netsim.Node
	Socket  string
	Network api.Network
	CNI     *libcni.CNIConfig
	Setups  []*setup
	Dir     string
	// Only is the one chain measured on this node, -1 for all of them.
	Only int
}

// measures reports whether chain s is measured on n.
func (n *benchNode) measures(s int) bool { return n.Only < 0 || n.Only == s }

// env is the nodes and the client node.
type env struct {
	*benchkit.Env
	// Nodes are the empty node (every chain, no background mappings) and
	// one loaded node per chain (1,000 mappings of that chain alone, so a
	// chain's growth is its own, not the others' load on its node).
	Nodes  []*benchNode
	Client *netsim.Node
	BinDir string // CNI_PATH: every plugin
}

// Node names: the empty node and the loaded node of each chain, in the
// chains' order.
var nodeNames = []string{"empty", "loaded-dcnet", "loaded-ipt", "loaded-nft"}

// newEnv builds the nodes inside the runner's Env, starts overlayd on each
// and writes the chains' configs; the runner's Close removes everything.
func newEnv(ctx context.Context, be *benchkit.Env, binSrc string) (*env, error) {
	e := &env{Env: be}
	e.BinDir = filepath.Join(e.Tmp, "bin")
	var pairs [][2]string
	for _, p := range []string{"overlayd", "dcnet", "dcnet-portmap", "ref/bridge", "ref/host-local", "ref/portmap"} {
		pairs = append(pairs, [2]string{p, filepath.Join(e.BinDir, filepath.Base(p))})
	}
	if err := benchkit.CopyBuilt(binSrc, pairs); err != nil {
		return nil, err
	}
	for i, name := range nodeNames {
		n, err := e.Fabric.AddNode(name)
		if err != nil {
			return nil, err
		}
		bn := &benchNode{Node: n, Dir: filepath.Join(e.Tmp, name), Only: i - 1}
		if err := e.startOverlayd(ctx, bn); err != nil {
			return nil, err
		}
		bn.CNI = libcni.NewCNIConfigWithCacheDir([]string{e.BinDir}, filepath.Join(bn.Dir, "cni-cache"), nil)
		if err := e.makeSetups(bn); err != nil {
			return nil, err
		}
		e.Nodes = append(e.Nodes, bn)
	}
	var err error
	if e.Client, err = e.Fabric.AddNode(clientName); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) startOverlayd(ctx context.Context, n *benchNode) error {
	n.Socket = filepath.Join(n.Dir, "run", "overlayd.sock")
	log := filepath.Join(n.Dir, "overlayd.log")
	p, err := e.Start(n.Node, log, filepath.Join(e.BinDir, "overlayd"),
		"--node-name", n.Name, "--underlay-ip", n.UnderlayIP.String(),
		"--run-dir", filepath.Join(n.Dir, "run"), "--state-dir", filepath.Join(n.Dir, "state"), "--metrics-addr", "")
	if err != nil {
		return err
	}
	client := api.NewClient(n.Socket)
	return netsim.WaitFor(ctx, readyTimeout, readyInterval, func() error {
		select {
		case <-p.Done():
			return errors.New("overlayd exited: " + netsim.TailFile(log, 20))
		default:
		}
		nets, err := client.Networks(ctx)
		if err != nil {
			return err
		}
		for _, nw := range nets {
			if nw.Name == dcnetNetwork && nw.NodeSubnet != "" {
				n.Network = nw
				return nil
			}
		}
		return fmt.Errorf("no subnet of %s yet", dcnetNetwork)
	})
}

// makeSetups writes the node's three chains: dcnet + dcnet-portmap, and
// the reference bridge + host-local + portmap with each of its backends.
func (e *env) makeSetups(n *benchNode) error {
	state := filepath.Join(n.Dir, "portmap-state")
	dcnet := fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"plugins":[
	  {"type":"dcnet","socket":%q,"capabilities":{"portMappings":true}},
	  {"type":"dcnet-portmap","stateDir":%q,"capabilities":{"portMappings":true}}]}`, dcnetNetwork, n.Socket, state)
	lists := []struct{ name, conf, single, bin string }{{"dcnet", dcnet,
		fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"type":"dcnet-portmap","stateDir":%q`, dcnetNetwork, state), "dcnet-portmap"}}
	for i, backend := range []string{"iptables", "nftables"} {
		name := "ref-" + backend
		bridge := fmt.Sprintf(`{"type":"bridge","bridge":"cni-%s","isGateway":true,"ipMasq":false,"hairpinMode":true,"mtu":1420,
		  "ipam":{"type":"host-local","subnet":"9.%d.0.0/16","dataDir":%q,"routes":[{"dst":"0.0.0.0/0"}]}}`,
			backend[:3], 200+i, filepath.Join(n.Dir, "host-local"))
		pm := fmt.Sprintf(`{"type":"portmap","backend":%q,"capabilities":{"portMappings":true}}`, backend)
		lists = append(lists, struct{ name, conf, single, bin string }{name,
			fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"plugins":[%s,%s]}`, name, bridge, pm),
			fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"type":"portmap","backend":%q`, name, backend), "portmap"})
	}
	for _, l := range lists {
		list, err := libcni.ConfListFromBytes([]byte(l.conf))
		if err != nil {
			return fmt.Errorf("%s conflist: %w", l.name, err)
		}
		single := l.single
		n.Setups = append(n.Setups, &setup{Name: l.name, List: list, Bin: filepath.Join(e.BinDir, l.bin),
			Single: func(ip string, maps []mapping) []byte {
				rc, _ := json.Marshal(map[string]any{"portMappings": maps})
				return fmt.Appendf(nil, `%s,"runtimeConfig":%s,"prevResult":{"cniVersion":"1.0.0",`+
					`"interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"%s/16","interface":0}]}}`, single, rc, ip)
			}})
	}
	return nil
}

// inNode runs fn on a thread in the node's netns: every plugin the bench
// execs starts there, as under a runtime on that node.
func (n *benchNode) inNode(fn func() error) error {
	return n.Do(func(ns.NetNS) error { return fn() })
}
