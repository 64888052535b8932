// Command portmap measures CNI ADD and DEL latency of dcnet + dcnet-portmap
// (a conflist, two host ports per container) against the reference bridge +
// host-local + portmap chain with each of portmap's backends (iptables,
// nftables), in the same run on two simulated nodes measured in turn, one
// with no other mappings and one with 1,000 per chain; the Mesos port mapper's iptables scripts
// against dcnet-portmap alone (the measurement behind the choice of nftables
// maps); and new connections per second to a host port against the same
// server reached by its container IP. It prints ratios with PASS/MISS per
// target and writes them into docs/benchmarks.md. Run as root from the
// repository root after `make build` (`make bench` does):
//
//	go run ./bench/portmap          # full run; updates docs/benchmarks.md
//	go run ./bench/portmap -short   # smoke run; writes nothing
//
// Everything happens in namespaces named dcnet-bpmap-...; the host's own
// namespace is never touched, and every namespace, process and temporary
// file is removed at the end.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Run sizes.
const (
	defaultContainers = 40
	shortContainers   = "8"
	loadedMappings    = 1000
	connHostPort      = 18080
)

// program is this benchmark's main: its name, namespaces and section.
var program = benchkit.Bench{Name: "portmap", Prefix: netsimPrefix, Section: strings.TrimPrefix(sectionHeading, "## ")}

type options struct {
	benchkit.Flags
	N   int
	Bin string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == serveFlag {
		if err := serve(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	benchkit.Main(program, parseFlags, run)
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := program.FlagSet()
	fs.IntVar(&o.N, "n", defaultContainers, "containers per chain and node (ADD then DEL of each)")
	fs.StringVar(&o.Bin, "bin", "bin", "directory of make build's programs")
	if err := program.Parse(fs, args, &o.Flags, map[string]string{"n": shortContainers}); err != nil {
		return o, err
	}
	if o.N < 1 || o.N > maxContainers {
		return o, fmt.Errorf("-n %d out of range [1, %d]", o.N, maxContainers)
	}
	return o, nil
}

// maxContainers keeps the measured host ports inside their ranges.
const maxContainers = 200

// results are everything the report shows; index 0 is the node with no
// background mappings, 1 the one with 1,000 per chain.
type results struct {
	Names  []string
	Lat    [2][]latencies
	Single [2][2]time.Duration // dcnet-portmap alone: [node][add,del]
	Mesos  [2][2]time.Duration // Mesos' iptables scripts: [node][add,del]
	Conn   connResult
	N      int
}

func run(ctx context.Context, be *benchkit.Env, o options, stdout io.Writer) (string, error) {
	say := func(f string, a ...any) { fmt.Fprintf(stdout, "bench/portmap: "+f+"\n", a...) }
	say("setting up nodes %v with overlayd (netns prefix %s)", nodeNames, netsimPrefix)
	e, err := newEnv(ctx, be, o.Bin)
	if err != nil {
		return "", err
	}
	ctrs := make([][][]*netsim.Container, len(e.Nodes))
	probes := make([]*netsim.Container, len(e.Nodes))
	for k, bn := range e.Nodes {
		ctrs[k] = make([][]*netsim.Container, len(bn.Setups))
		for s := range bn.Setups {
			if !bn.measures(s) {
				continue
			}
			for i := range o.N {
				c, err := bn.AddContainer(fmt.Sprintf("s%dc%02d", s, i))
				if err != nil {
					return "", err
				}
				ctrs[k][s] = append(ctrs[k][s], c)
			}
		}
		if probes[k], err = bn.AddContainer("probe"); err != nil {
			return "", err
		}
	}
	res := &results{N: o.N}
	for _, st := range e.Nodes[0].Setups {
		res.Names = append(res.Names, st.Name)
	}
	for k, bn := range e.Nodes[1:] {
		say("loading %d mappings of %s on node %s", loadedMappings, bn.Setups[bn.Only].Name, bn.Name)
		if err := e.load(ctx, bn, "ADD", loadedMappings, probes[k+1]); err != nil {
			return "", err
		}
	}
	say("ADD/DEL of %d containers per chain on the empty node and on each chain's loaded node, interleaved", o.N)
	if res.Lat, err = e.measure(ctx, ctrs, o.N); err != nil {
		return "", err
	}
	say("kernel API alone: dcnet-portmap and the Mesos port mapper's iptables scripts, both nodes interleaved")
	if err := e.kernelAPI(ctx, res, probes); err != nil {
		return "", err
	}
	for k, bn := range e.Nodes[1:] {
		if err := e.load(ctx, bn, "DEL", loadedMappings, probes[k+1]); err != nil {
			return "", err
		}
	}
	say("new connections per second: host port vs container IP")
	if res.Conn, err = e.connTest(ctx, e.Nodes[0]); err != nil {
		return "", err
	}
	rep := newReport(o, res)
	fmt.Fprint(stdout, rep.text())
	return rep.section(), nil
}

// kernelAPI measures dcnet-portmap alone (on the empty node and on
// dcnet's loaded node) and the Mesos iptables scripts (on the empty node
// with no rules in their chain and on the reference iptables chain's loaded
// node with 1,000), round after round.
func (e *env) kernelAPI(ctx context.Context, res *results, probes []*netsim.Container) (err error) {
	singleNodes := [2]int{0, 1}
	mesosNodes := [2]int{0, 2}
	for k, idx := range mesosNodes {
		loaded := 0
		if k == 1 {
			loaded = loadedMappings
		}
		bn := e.Nodes[idx]
		if err := e.mesosChainUp(ctx, bn, loaded); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, e.mesosChainDown(ctx, bn)) }()
	}
	var single, mesos [2][2][]time.Duration
	for i := range mesosRuns {
		for k := range 2 {
			bn := e.Nodes[singleNodes[k]]
			st := bn.Setups[0]
			conf := st.Single("10.66.0.2", twoMappings(measuredBase+1000+2*i))
			err := bn.inNode(func() error {
				for j, op := range []string{"ADD", "DEL"} {
					start := time.Now()
					if err := e.single(ctx, st, op, conf, fmt.Sprintf("api-%d", i), probes[singleNodes[k]]); err != nil {
						return err
					}
					single[k][j] = append(single[k][j], time.Since(start))
				}
				return nil
			})
			if err != nil {
				return err
			}
			a, d, err := e.mesosRound(ctx, e.Nodes[mesosNodes[k]], i)
			if err != nil {
				return err
			}
			mesos[k][0], mesos[k][1] = append(mesos[k][0], a), append(mesos[k][1], d)
		}
	}
	for k := range 2 {
		for j := range 2 {
			res.Single[k][j] = benchkit.NearestRank(single[k][j], 50)
			res.Mesos[k][j] = benchkit.NearestRank(mesos[k][j], 50)
		}
	}
	return nil
}

// connTest attaches a server container with the dcnet chain and host port
// connHostPort on bn and measures both paths from the client node.
func (e *env) connTest(ctx context.Context, bn *benchNode) (connResult, error) {
	c, err := bn.AddContainer("server")
	if err != nil {
		return connResult{}, err
	}
	st := bn.Setups[0]
	var ip string
	err = bn.inNode(func() error {
		r, err := bn.CNI.AddNetworkList(ctx, st.List, runtimeConf("server", c.Path, connHostPort))
		if err != nil {
			return err
		}
		res, err := current.NewResultFromResult(r)
		if err != nil || len(res.IPs) == 0 {
			return fmt.Errorf("server result %v: %v", r, err)
		}
		a, _ := netip.AddrFromSlice(res.IPs[0].Address.IP)
		ip = a.Unmap().String()
		return nil
	})
	if err != nil {
		return connResult{}, err
	}
	r, err := e.connRate(ctx, bn, c, ip, connHostPort)
	derr := bn.inNode(func() error { return bn.CNI.DelNetworkList(ctx, st.List, runtimeConf("server", c.Path, connHostPort)) })
	return r, errors.Join(err, derr)
}
