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
	nodeName      = "node"
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

// env is the node (overlayd, the plugins) and the client node.
type env struct {
	*benchkit.Env
	Node, Client *netsim.Node
	Socket       string
	Network      api.Network
	BinDir       string // CNI_PATH: every plugin
	CNI          *libcni.CNIConfig
	Setups       []*setup
}

// newEnv builds the node, starts overlayd and writes the chains' configs.
func newEnv(ctx context.Context, binSrc string) (e *env, err error) {
	e = &env{}
	if e.Env, err = benchkit.NewEnv("dcnet-bench-portmap-", netsimPrefix); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	e.BinDir = filepath.Join(e.Tmp, "bin")
	var pairs [][2]string
	for _, p := range []string{"overlayd", "dcnet", "dcnet-portmap", "ref/bridge", "ref/host-local", "ref/portmap"} {
		pairs = append(pairs, [2]string{p, filepath.Join(e.BinDir, filepath.Base(p))})
	}
	if err := benchkit.CopyBuilt(binSrc, pairs); err != nil {
		return e, err
	}
	if e.Node, err = e.Fabric.AddNode(nodeName); err != nil {
		return e, err
	}
	if e.Client, err = e.Fabric.AddNode(clientName); err != nil {
		return e, err
	}
	if err := e.startOverlayd(ctx); err != nil {
		return e, err
	}
	e.CNI = libcni.NewCNIConfigWithCacheDir([]string{e.BinDir}, filepath.Join(e.Tmp, "cni-cache"), nil)
	return e, e.makeSetups()
}

func (e *env) startOverlayd(ctx context.Context) error {
	e.Socket = filepath.Join(e.Tmp, "run", "overlayd.sock")
	p, err := e.Start(e.Node, filepath.Join(e.Tmp, "overlayd.log"), filepath.Join(e.BinDir, "overlayd"),
		"--node-name", nodeName, "--underlay-ip", e.Node.UnderlayIP.String(),
		"--run-dir", filepath.Join(e.Tmp, "run"), "--state-dir", filepath.Join(e.Tmp, "state"), "--metrics-addr", "")
	if err != nil {
		return err
	}
	client := api.NewClient(e.Socket)
	return netsim.WaitFor(ctx, readyTimeout, readyInterval, func() error {
		select {
		case <-p.Done():
			return errors.New("overlayd exited: " + netsim.TailFile(filepath.Join(e.Tmp, "overlayd.log"), 20))
		default:
		}
		nets, err := client.Networks(ctx)
		if err != nil {
			return err
		}
		for _, n := range nets {
			if n.Name == dcnetNetwork && n.NodeSubnet != "" {
				e.Network = n
				return nil
			}
		}
		return fmt.Errorf("no subnet of %s yet", dcnetNetwork)
	})
}

// makeSetups writes the three chains: dcnet + dcnet-portmap, and the
// reference bridge + host-local + portmap with each of its backends.
func (e *env) makeSetups() error {
	state := filepath.Join(e.Tmp, "portmap-state")
	dcnet := fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"plugins":[
	  {"type":"dcnet","socket":%q,"capabilities":{"portMappings":true}},
	  {"type":"dcnet-portmap","stateDir":%q,"capabilities":{"portMappings":true}}]}`, dcnetNetwork, e.Socket, state)
	lists := []struct{ name, conf, single, bin string }{{"dcnet", dcnet,
		fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"type":"dcnet-portmap","stateDir":%q`, dcnetNetwork, state), "dcnet-portmap"}}
	for i, backend := range []string{"iptables", "nftables"} {
		name := "ref-" + backend
		bridge := fmt.Sprintf(`{"type":"bridge","bridge":"cni-%s","isGateway":true,"ipMasq":false,"hairpinMode":true,"mtu":1420,
		  "ipam":{"type":"host-local","subnet":"9.%d.0.0/16","dataDir":%q,"routes":[{"dst":"0.0.0.0/0"}]}}`,
			backend[:3], 200+i, filepath.Join(e.Tmp, "host-local"))
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
		e.Setups = append(e.Setups, &setup{Name: l.name, List: list, Bin: filepath.Join(e.BinDir, l.bin),
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
func (e *env) inNode(fn func() error) error {
	return e.Node.Do(func(ns.NetNS) error { return fn() })
}
