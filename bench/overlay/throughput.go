package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// iperf3 settings.
const (
	iperfPort      = 5201
	iperfOmit      = 1 // seconds of slow start left out of the result
	iperfWarmup    = 1 // seconds of the discarded warm-up run per path
	iperfSlack     = 20 * time.Second
	serverWaitTime = 10 * time.Second

	// mtuRaised is the container MTU of the second overlay row: the VTEP's
	// MTU (underlay 1500 - 50 bytes of VxLAN).
	mtuRaised = 1450
	cniRaised = "dcos1450"
)

// path is one iperf3 client/server pair. Setup and Restore, when set, run
// around every iperf3 run of the path.
type path struct {
	Label      string
	Client     netsim.Namespace
	Server     netsim.Namespace
	ClientNode *node // the nodes of Client and Server (or the nodes themselves)
	ServerNode *node
	Dst        string
	Placement  placement
	Setup      func(context.Context) error
	Restore    func(context.Context) error
}

// plainLabel is the anchor of the target: the same two containers, their
// node subnets routed over the plain underlay instead of through vtep1024.
const plainLabel = "plain routing (same containers, node subnets routed over eth0, no VxLAN)"

// sensitivityLabel is the diagnostic row that shows the target can fail:
// the target's overlay path with the client node's eth0 made to segment
// VxLAN packets in software (tunnel GSO offload off), a costlier
// encapsulation that only the sending node pays.
const sensitivityLabel = "overlay, client node eth0 segmenting VxLAN in software (sensitivity check)"

// tunnelGSO are the eth0 features that segment UDP-tunnelled TCP.
var tunnelGSO = []string{"tx-udp_tnl-segmentation", "tx-udp_tnl-csum-segmentation"}

// sharedSuffix marks the diagnostic rows measured with sharedCPU placement.
const sharedSuffix = ", shared CPU"

// iperfRun is what one iperf3 client run reported.
type iperfRun struct {
	Gbps        float64 // received by the server
	Retransmits int
	CPUClient   float64 // % of all CPUs, as iperf3 reports it
	CPUServer   float64
	BusyClient  float64 // % busy of the client node's CPU during the run (/proc/stat)
	BusyServer  float64 // % busy of the server node's CPU
}

// throughputResult holds every run per path label, in round order.
type throughputResult struct {
	Paths           []string              // labels in table order: underlay, overlay (the target), diagnostics
	Runs            map[string][]iperfRun // per label
	MTU             map[string]int        // "underlay eth0", "vtep1024", "m-dcos", "container eth0 ..." -> MTU
	Rounds, Seconds int
	CPUs            cpuPair
	Target, Anchor  string // labels of the target's overlay and plain rows
	SharedOverlay   string // labels of the shared-CPU diagnostic rows ("" without them)
	SharedPlain     string
}

// runThroughput measures iperf3 TCP between two nodes over the plain
// underlay and between containers on them over the overlay, alternating
// the order every round.
func runThroughput(ctx context.Context, e *env, o options, log io.Writer) (throughputResult, error) {
	res := throughputResult{Runs: map[string][]iperfRun{}, MTU: map[string]int{}, Rounds: o.Rounds, Seconds: o.Seconds}
	cpus, err := pickCPUs()
	if err != nil {
		return res, err
	}
	res.CPUs = cpus
	pl := perNode
	if !cpus.Split {
		pl = sharedCPU
		fmt.Fprintf(log, "bench/overlay: throughput: only CPU %d is available: both nodes share it, no per-node placement\n", cpus.Client)
	}
	etcd, err := e.startEtcd(ctx, "tm")
	if err != nil {
		return res, err
	}
	defer etcd.Stop()
	nodes, subnets, stop, err := e.startCluster(ctx, etcd.Endpoints(), 30*time.Second, "t1", "t2")
	defer stop()
	if err != nil {
		return res, err
	}
	cl, srv := nodes[0], nodes[1]
	paths := []path{{Label: "underlay (node to node, eth0)", Client: cl.Namespace, Server: srv.Namespace,
		ClientNode: cl, ServerNode: srv, Dst: srv.UnderlayIP.String(), Placement: pl}}
	var plain path
	for _, c := range []struct{ cni, label, conf string }{
		{overlayName, "overlay (container to container, default MTU 1420)",
			`{"cniVersion":"1.1.0","name":"dcos","plugins":[{"type":"dcnet","network":"dcos","socket":%q}]}`},
		{cniRaised, fmt.Sprintf("overlay, container MTU raised to %d (not the default)", mtuRaised),
			`{"cniVersion":"1.1.0","name":"` + cniRaised + `","plugins":[{"type":"dcnet","network":"dcos","mtu":` + strconv.Itoa(mtuRaised) + `,"socket":%q}]}`},
	} {
		var ctrs [2]*netsim.Container
		var dst string
		for i, nd := range nodes {
			if err := nd.writeConf(c.cni+".conflist", fmt.Sprintf(c.conf, nd.OD.Socket())); err != nil {
				return res, err
			}
			ctr, ip, err := e.attach(ctx, nd, "c"+strings.TrimPrefix(c.cni, overlayName), c.cni)
			if err != nil {
				return res, err
			}
			ctrs[i], dst = ctr, ip
		}
		paths = append(paths, path{Label: c.label, Client: ctrs[0].Namespace, Server: ctrs[1].Namespace,
			ClientNode: cl, ServerNode: srv, Dst: dst, Placement: pl})
		if c.cni == overlayName {
			plain = path{Label: plainLabel, Client: ctrs[0].Namespace, Server: ctrs[1].Namespace,
				ClientNode: cl, ServerNode: srv, Dst: dst, Placement: pl}
			res.Target = c.label
		}
		h, err := e.openNetlink(ctrs[0].Namespace)
		if err != nil {
			return res, err
		}
		res.MTU["container eth0 ("+c.cni+")"] = linkMTU(h, "eth0")
	}
	// Diagnostic: VxLAN without the containers' veth and bridge hops, node
	// netns to the other node's bridge address (source: the VTEP address).
	paths = append(paths, path{Label: "vxlan only (node to node over " + vtepName + ", no container hops)",
		Client: cl.Namespace, Server: srv.Namespace, ClientNode: cl, ServerNode: srv,
		Dst: gateway(subnets[srv.Name]).String(), Placement: pl})
	if err := plainRouting(ctx, nodes, &plain); err != nil {
		return res, err
	}
	paths = append(paths, plain)
	res.Anchor = plain.Label
	// Diagnostic: the target's overlay row with the tunnel segmented in
	// software on the client node, put back as it was after each run.
	gso, err := features(ctx, cl, tunnelGSO...)
	if err != nil {
		return res, err
	}
	sens := paths[1]
	sens.Label = sensitivityLabel
	sens.Setup = func(ctx context.Context) error { return setFeatures(ctx, cl, "off", tunnelGSO...) }
	sens.Restore = func(ctx context.Context) error { return restoreFeatures(ctx, cl, gso) }
	paths = append(paths, sens)
	// Diagnostic: the target's two rows again with the kernel work of both
	// nodes on the sending CPU (how the figures came out before per-node
	// placement; see placement).
	if cpus.Split {
		ov := paths[1]
		ov.Label, ov.Placement = res.Target+sharedSuffix, sharedCPU
		pn := plain
		pn.Label, pn.Placement = plainLabel+sharedSuffix, sharedCPU
		paths = append(paths, ov, pn)
		res.SharedOverlay, res.SharedPlain = ov.Label, pn.Label
	}
	res.MTU["node "+underlayDev] = linkMTU(cl.NL, underlayDev)
	res.MTU[vtepName] = linkMTU(cl.NL, vtepName)
	res.MTU[bridgeName] = linkMTU(cl.NL, bridgeName)
	started := map[string]bool{}
	for _, p := range paths {
		res.Paths = append(res.Paths, p.Label)
		if started[p.Server.NSName] {
			continue
		}
		started[p.Server.NSName] = true
		if err := e.startIperfServer(ctx, p.Server, cpus.Server); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(log, "bench/overlay: throughput: warm-up (%d s per path, discarded)\n", iperfWarmup)
	for _, p := range paths {
		if _, err := iperfAround(ctx, p, cpus, iperfWarmup, 0); err != nil {
			return res, err
		}
	}
	for r := range o.Rounds {
		order := append([]path(nil), paths...)
		if r%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, p := range order {
			run, err := iperfAround(ctx, p, cpus, o.Seconds, iperfOmit)
			if err != nil {
				return res, err
			}
			res.Runs[p.Label] = append(res.Runs[p.Label], run)
			fmt.Fprintf(log, "bench/overlay: throughput round %d/%d: %-55s %6.2f Gbit/s (%d retransmits, CPU busy %.0f%%/%.0f%%)\n",
				r+1, o.Rounds, p.Label, run.Gbps, run.Retransmits, run.BusyClient, run.BusyServer)
		}
	}
	return res, nil
}

// plainRouting fills p's Setup and Restore: Setup routes each node's peer
// subnet via the peer's underlay address on eth0 (plain routing, as a
// host-gw network would), Restore puts back the route through vtep1024 that
// overlayd programs. overlayd is stopped first (the kernel state it made
// stays) so that its reconcile does not undo Setup in the middle of a run.
func plainRouting(ctx context.Context, nodes []*node, p *path) error {
	type swap struct {
		nd              *node
		subnet, via, vx string
	}
	var swaps []swap
	for _, nd := range nodes {
		cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
		peers, err := nd.OD.API.Peers(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("peers of %s: %w", nd.Name, err)
		}
		for _, pe := range peers {
			for _, sub := range pe.Subnets {
				if pfx, err := netip.ParsePrefix(sub); err == nil && pfx.Addr().Is4() {
					swaps = append(swaps, swap{nd, sub, pe.UnderlayIP, pe.VTEPIP})
				}
			}
		}
	}
	if len(swaps) != len(nodes) {
		return fmt.Errorf("plain routing: want one IPv4 peer subnet per node, found %d", len(swaps))
	}
	for _, nd := range nodes {
		if err := nd.OD.Proc.Stop(); err != nil {
			return fmt.Errorf("stop overlayd on %s: %w", nd.Name, err)
		}
	}
	route := func(ctx context.Context, vx bool) error {
		for _, sw := range swaps {
			argv := []string{"ip", "route", "replace", sw.subnet, "via", sw.via, "dev", underlayDev}
			if vx {
				argv = []string{"ip", "route", "replace", sw.subnet, "via", sw.vx, "dev", vtepName, "onlink"}
			}
			if out, err := runIn(ctx, sw.nd.Namespace, nil, argv...); err != nil {
				return fmt.Errorf("%s in %s: %v %s", strings.Join(argv, " "), sw.nd.Name, err, out)
			}
		}
		return nil
	}
	p.Setup = func(ctx context.Context) error { return route(ctx, false) }
	p.Restore = func(ctx context.Context) error { return route(ctx, true) }
	return nil
}

// setFeatures turns the named offload features of nd's eth0 on or off.
func setFeatures(ctx context.Context, nd *node, state string, features ...string) error {
	argv := []string{"ethtool", "-K", underlayDev}
	for _, f := range features {
		argv = append(argv, f, state)
	}
	if out, err := runIn(ctx, nd.Namespace, nil, argv...); err != nil {
		return fmt.Errorf("%s in %s (install ethtool: scripts/deps.sh): %v %s", strings.Join(argv, " "), nd.Name, err, out)
	}
	return nil
}

// features reads the named offload features of nd's eth0: name -> "on"
// or "off" (`ethtool -k`).
func features(ctx context.Context, nd *node, names ...string) (map[string]string, error) {
	out, err := runIn(ctx, nd.Namespace, nil, "ethtool", "-k", underlayDev)
	if err != nil {
		return nil, fmt.Errorf("ethtool -k %s in %s (install ethtool: scripts/deps.sh): %v %s", underlayDev, nd.Name, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if ok && slices.Contains(names, name) {
			got[name] = strings.Fields(val)[0]
		}
	}
	for _, n := range names {
		if v := got[n]; v != "on" && v != "off" {
			return nil, fmt.Errorf("ethtool -k %s in %s: feature %s is %q", underlayDev, nd.Name, n, v)
		}
	}
	return got, nil
}

// restoreFeatures sets nd's eth0 features back to was.
func restoreFeatures(ctx context.Context, nd *node, was map[string]string) error {
	for name, state := range was {
		if err := setFeatures(ctx, nd, state, name); err != nil {
			return err
		}
	}
	return nil
}

// iperfAround runs iperf for p between its Setup and Restore, with p's
// placement applied to its nodes.
func iperfAround(ctx context.Context, p path, cpus cpuPair, seconds, omit int) (iperfRun, error) {
	if err := place(ctx, p.Placement, cpus, p.ClientNode, p.ServerNode); err != nil {
		return iperfRun{}, err
	}
	if p.Setup != nil {
		if err := p.Setup(ctx); err != nil {
			if p.Restore != nil { // undo what part of Setup did
				err = errors.Join(err, p.Restore(ctx))
			}
			return iperfRun{}, err
		}
	}
	before, err := benchkit.ReadCPUTimes(cpus.Client, cpus.Server)
	if err != nil {
		return iperfRun{}, err
	}
	run, err := iperf(ctx, p, cpus.Client, seconds, omit)
	if after, serr := benchkit.ReadCPUTimes(cpus.Client, cpus.Server); serr == nil {
		run.BusyClient = benchkit.BusyPct(before[cpus.Client], after[cpus.Client])
		run.BusyServer = benchkit.BusyPct(before[cpus.Server], after[cpus.Server])
	} else if err == nil {
		err = serr
	}
	if p.Restore != nil {
		if rerr := p.Restore(ctx); rerr != nil && err == nil {
			err = rerr
		}
	}
	return run, err
}

// gateway is the first address of a node subnet, on the node's bridge.
func gateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// startIperfServer runs `iperf3 -s` in ns, pinned to cpu, and waits until
// it listens.
func (e *env) startIperfServer(ctx context.Context, ns netsim.Namespace, cpu int) error {
	name := strings.TrimPrefix(ns.NSName, netsim.StaleMatch(netsimPrefix))
	p, err := e.start(ns, name, filepath.Join(e.Tmp, "iperf3-"+name+".log"),
		"taskset", "-c", strconv.Itoa(cpu), "iperf3", "-s", "-p", strconv.Itoa(iperfPort))
	if err != nil {
		return err
	}
	return netsim.WaitFor(ctx, serverWaitTime, readyInterval, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("iperf3 server in %s exited:\n%s", ns.NSName, netsim.TailFile(p.LogPath, 5))
		default:
		}
		out, err := runIn(ctx, ns, nil, "ss", "-Hltn", "sport = :"+strconv.Itoa(iperfPort))
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			return fmt.Errorf("iperf3 in %s not listening yet", ns.NSName)
		}
		return nil
	})
}

// iperf runs one iperf3 TCP client, pinned to cpu, for seconds (after omit
// seconds of warm-up) and returns what the server received.
func iperf(ctx context.Context, p path, cpu, seconds, omit int) (iperfRun, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+omit)*time.Second+iperfSlack)
	defer cancel()
	argv := []string{"taskset", "-c", strconv.Itoa(cpu), "iperf3", "-c", p.Dst, "-p", strconv.Itoa(iperfPort), "-t", strconv.Itoa(seconds), "-J"}
	if omit > 0 {
		argv = append(argv, "-O", strconv.Itoa(omit))
	}
	out, err := p.Client.Exec(ctx, argv...).Output()
	r, perr := parseIperf(out)
	if perr != nil || err != nil {
		return r, fmt.Errorf("iperf3 %s -> %s (%s): %w", p.Client.NSName, p.Dst, p.Label, errors.Join(err, perr))
	}
	return r, nil
}

// parseIperf reads iperf3's JSON report.
func parseIperf(out []byte) (iperfRun, error) {
	var doc struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Retransmits int `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
			CPU struct {
				Host   float64 `json:"host_total"`
				Remote float64 `json:"remote_total"`
			} `json:"cpu_utilization_percent"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return iperfRun{}, fmt.Errorf("iperf3 report %.200q: %w", out, err)
	}
	if doc.Error != "" {
		return iperfRun{}, fmt.Errorf("iperf3: %s", doc.Error)
	}
	if doc.End.SumReceived.BitsPerSecond <= 0 {
		return iperfRun{}, errors.New("iperf3 reported no received bytes")
	}
	return iperfRun{Gbps: doc.End.SumReceived.BitsPerSecond / 1e9, Retransmits: doc.End.SumSent.Retransmits,
		CPUClient: doc.End.CPU.Host, CPUServer: doc.End.CPU.Remote}, nil
}
