package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Ports: each setup loads its background mappings in its own range, and
// the measured containers take two ports each in another.
const (
	loadBase     = 20000 // + setup*1000
	measuredBase = 30000 // + setup*400 + 2*i
	callTimeout  = 60 * time.Second
)

// mapping is one entry of the portMappings capability.
type mapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

// twoMappings are a container's mappings: host ports base and base+1.
func twoMappings(base int) []mapping {
	return []mapping{{base, 80, "tcp"}, {base + 1, 81, "tcp"}}
}

// latencies are one setup's ADD and DEL latencies at one load.
type latencies struct {
	Add, Del []time.Duration
}

// measure runs ADD then DEL of n containers per chain on every node (each
// loaded node measures its own chain only), interleaving nodes and chains
// container by container so that they share the machine's moments.
// out[0] is the empty node, out[1][s] chain s on its loaded node.
func (e *env) measure(ctx context.Context, ctrs [][][]*netsim.Container, n int) ([2][]latencies, error) {
	var out [2][]latencies
	out[0] = make([]latencies, len(e.Nodes[0].Setups))
	out[1] = make([]latencies, len(e.Nodes[0].Setups))
	for _, op := range []string{"ADD", "DEL"} {
		for i := range n {
			for k, bn := range e.Nodes {
				err := bn.inNode(func() error {
					for s, st := range bn.Setups {
						if !bn.measures(s) {
							continue
						}
						took, err := bn.call(ctx, st, op, ctrs[k][s][i], fmt.Sprintf("m%d-%d", s, i), measuredBase+s*400+2*i)
						if err != nil {
							return err
						}
						l := &out[min(k, 1)][s]
						if op == "ADD" {
							l.Add = append(l.Add, took)
						} else {
							l.Del = append(l.Del, took)
						}
					}
					return nil
				})
				if err != nil {
					return out, fmt.Errorf("node %s: %w", bn.Name, err)
				}
			}
		}
	}
	return out, nil
}

// call runs one ADD or DEL of a whole chain through libcni.
func (n *benchNode) call(ctx context.Context, st *setup, op string, c *netsim.Container, id string, base int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rt := runtimeConf(id, c.Path, base)
	start := time.Now()
	var err error
	if op == "ADD" {
		_, err = n.CNI.AddNetworkList(ctx, st.List, rt)
	} else {
		err = n.CNI.DelNetworkList(ctx, st.List, rt)
	}
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("%s %s container %s: %w", st.Name, op, id, err)
	}
	return took, nil
}

// load puts n mappings of the chains bn measures on it (op ADD) or removes them
// (DEL): the port-mapping plugin alone, n/2 times, each with two mappings
// and a prevResult of its own address.
func (e *env) load(ctx context.Context, bn *benchNode, op string, n int, probe *netsim.Container) error {
	return bn.inNode(func() error {
		for s, st := range bn.Setups {
			if !bn.measures(s) {
				continue
			}
			for i := range n / 2 {
				ip := netip.AddrFrom4([4]byte{10, byte(77 + s), byte(i >> 8), byte(i)})
				conf := st.Single(ip.String(), twoMappings(loadBase+s*1000+2*i))
				if err := e.single(ctx, st, op, conf, fmt.Sprintf("load%d-%d", s, i), probe); err != nil {
					return fmt.Errorf("%s %s background mapping %d: %w", st.Name, op, i, err)
				}
			}
		}
		return nil
	})
}

func runtimeConf(id, netns string, base int) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: "eth0",
		CapabilityArgs: map[string]any{"portMappings": twoMappings(base)}}
}

// single runs the port-mapping plugin alone; call it inside inNode.
func (e *env) single(ctx context.Context, st *setup, op string, conf []byte, id string, probe *netsim.Container) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	args := &invoke.Args{Command: op, ContainerID: id, NetNS: probe.Path, IfName: "eth0", Path: e.BinDir}
	if op == "ADD" {
		_, err := invoke.ExecPluginWithResult(ctx, st.Bin, conf, args, nil)
		return err
	}
	return invoke.ExecPluginWithoutResult(ctx, st.Bin, conf, args, nil)
}
