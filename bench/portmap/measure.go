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

// measure runs ADD then DEL of n containers per setup, interleaving the
// setups container by container so that they share the machine's moods.
func (e *env) measure(ctx context.Context, ctrs [][]*netsim.Container, n int) ([]latencies, error) {
	out := make([]latencies, len(e.Setups))
	err := e.inNode(func() error {
		for _, op := range []string{"ADD", "DEL"} {
			for i := range n {
				for s, st := range e.Setups {
					took, err := e.call(ctx, st, op, ctrs[s][i], fmt.Sprintf("m%d-%d", s, i), measuredBase+s*400+2*i)
					if err != nil {
						return err
					}
					if op == "ADD" {
						out[s].Add = append(out[s].Add, took)
					} else {
						out[s].Del = append(out[s].Del, took)
					}
				}
			}
		}
		return nil
	})
	return out, err
}

// call runs one ADD or DEL of a whole chain through libcni.
func (e *env) call(ctx context.Context, st *setup, op string, c *netsim.Container, id string, base int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rt := runtimeConf(id, c.Path, base)
	start := time.Now()
	var err error
	if op == "ADD" {
		_, err = e.CNI.AddNetworkList(ctx, st.List, rt)
	} else {
		err = e.CNI.DelNetworkList(ctx, st.List, rt)
	}
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("%s %s container %s: %w", st.Name, op, id, err)
	}
	return took, nil
}

// load puts n mappings of every setup on the node (op ADD) or removes
// them (DEL): the port-mapping plugin alone, n/2 times, each with two
// mappings and a prevResult of its own address.
func (e *env) load(ctx context.Context, op string, n int, probe *netsim.Container) error {
	return e.inNode(func() error {
		for s, st := range e.Setups {
			for i := range n / 2 {
				ip := netip.AddrFrom4([4]byte{10, byte(77 + s), byte(i >> 8), byte(i)})
				conf := st.Single(ip.String(), twoMappings(loadBase+s*1000+2*i))
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				args := &invoke.Args{Command: op, ContainerID: fmt.Sprintf("load%d-%d", s, i), NetNS: probe.Path, IfName: "eth0", Path: e.BinDir}
				var err error
				if op == "ADD" {
					_, err = invoke.ExecPluginWithResult(cctx, st.Bin, conf, args, nil)
				} else {
					err = invoke.ExecPluginWithoutResult(cctx, st.Bin, conf, args, nil)
				}
				cancel()
				if err != nil {
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
