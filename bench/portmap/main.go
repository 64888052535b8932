// Command portmap measures CNI ADD and DEL latency of dcnet + dcnet-portmap
// (a conflist, two host ports per container) against the reference bridge +
// host-local + portmap chain with each of portmap's backends (iptables,
// nftables), in the same run on one simulated node, with no and with 1,000
// mappings already on the node; the Mesos port mapper's iptables scripts
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
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Run sizes.
const (
	defaultContainers = 40
	shortContainers   = 8
	loadedMappings    = 1000
	connHostPort      = 18080
)

type options struct {
	N       int
	Out     string
	Bin     string
	Short   bool
	Command string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == serveFlag {
		if err := serve(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var o options
	fs := flag.NewFlagSet("bench/portmap", flag.ExitOnError)
	fs.IntVar(&o.N, "n", defaultContainers, "containers per chain and load (ADD then DEL of each)")
	fs.StringVar(&o.Out, "out", "docs/benchmarks.md", `markdown file whose section is replaced ("" writes nothing)`)
	fs.StringVar(&o.Bin, "bin", "bin", "directory of make build's programs")
	fs.BoolVar(&o.Short, "short", false, fmt.Sprintf("smoke run: %d containers, writes no file", shortContainers))
	fs.Parse(os.Args[1:])
	if o.Short {
		o.N, o.Out = shortContainers, ""
	}
	o.Command = strings.TrimSpace("go run ./bench/portmap " + strings.Join(os.Args[1:], " "))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/portmap: %v\n", err)
		os.Exit(1)
	}
}

// results are everything the report shows.
type results struct {
	Names       []string
	Lat0, Lat1k []latencies
	Single      [2][2]time.Duration // dcnet-portmap alone: [load][add,del]
	Mesos       [2][2]time.Duration // Mesos' iptables scripts: [load][add,del]
	Conn        connResult
	N           int
}

func run(ctx context.Context, o options) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the benchmark creates network namespaces (nothing changes in the host's own)")
	}
	defer netsim.HostUnchanged(ctx)(&err)
	say := func(f string, a ...any) { fmt.Printf("bench/portmap: "+f+"\n", a...) }
	say("setting up node %s with overlayd (netns prefix %s)", nodeName, netsimPrefix)
	e, err := newEnv(ctx, o.Bin)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.Close()) }()
	ctrs := make([][]*netsim.Container, len(e.Setups))
	for s := range e.Setups {
		for i := range o.N {
			c, err := e.Node.AddContainer(fmt.Sprintf("s%dc%02d", s, i))
			if err != nil {
				return err
			}
			ctrs[s] = append(ctrs[s], c)
		}
	}
	probe, err := e.Node.AddContainer("probe")
	if err != nil {
		return err
	}
	res := &results{N: o.N}
	for _, st := range e.Setups {
		res.Names = append(res.Names, st.Name)
	}
	say("ADD/DEL of %d containers per chain, no mappings on the node", o.N)
	if res.Lat0, err = e.measure(ctx, ctrs, o.N); err != nil {
		return err
	}
	if err := e.kernelAPI(ctx, res, 0, probe); err != nil {
		return err
	}
	say("loading %d mappings per chain", loadedMappings)
	if err := e.load(ctx, "ADD", loadedMappings, probe); err != nil {
		return err
	}
	say("ADD/DEL of %d containers per chain, %d mappings on the node", o.N, loadedMappings)
	if res.Lat1k, err = e.measure(ctx, ctrs, o.N); err != nil {
		return err
	}
	if err := e.kernelAPI(ctx, res, 1, probe); err != nil {
		return err
	}
	if err := e.load(ctx, "DEL", loadedMappings, probe); err != nil {
		return err
	}
	say("new connections per second: host port vs container IP")
	if res.Conn, err = e.connTest(ctx); err != nil {
		return err
	}
	rep := newReport(o, res)
	fmt.Print(rep.text())
	if o.Out != "" {
		if err := benchkit.Update(o.Out, rep.section()); err != nil {
			return err
		}
		say("wrote %s", o.Out)
	}
	return nil
}

// kernelAPI measures dcnet-portmap alone and the Mesos iptables scripts
// with the node's background mappings (index 0: none, 1: 1,000).
func (e *env) kernelAPI(ctx context.Context, res *results, idx int, probe *netsim.Container) error {
	var adds, dels []time.Duration
	st := e.Setups[0]
	err := e.inNode(func() error {
		for i := range mesosRuns {
			conf := st.Single("10.66.0.2", twoMappings(measuredBase+1000+2*i))
			for _, op := range []string{"ADD", "DEL"} {
				start := time.Now()
				if err := e.single(ctx, st, op, conf, fmt.Sprintf("api-%d", i), probe); err != nil {
					return err
				}
				if op == "ADD" {
					adds = append(adds, time.Since(start))
				} else {
					dels = append(dels, time.Since(start))
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.Single[idx] = [2]time.Duration{benchkit.NearestRank(adds, 50), benchkit.NearestRank(dels, 50)}
	loaded := 0
	if idx == 1 {
		loaded = loadedMappings
	}
	a, d, err := e.mesosIptables(ctx, loaded)
	res.Mesos[idx] = [2]time.Duration{a, d}
	return err
}

// connTest attaches a server container with the dcnet chain and host port
// connHostPort and measures both paths.
func (e *env) connTest(ctx context.Context) (connResult, error) {
	c, err := e.Node.AddContainer("server")
	if err != nil {
		return connResult{}, err
	}
	st := e.Setups[0]
	var ip string
	err = e.inNode(func() error {
		rt := runtimeConf("server", c.Path, connHostPort)
		r, err := e.CNI.AddNetworkList(ctx, st.List, rt)
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
	r, err := e.connRate(ctx, c, ip, connHostPort)
	derr := e.inNode(func() error { return e.CNI.DelNetworkList(ctx, st.List, runtimeConf("server", c.Path, connHostPort)) })
	return r, errors.Join(err, derr)
}
