package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Names, versions and bounds of the run.
const (
	netsimPrefix = "bdns"
	// corednsModule at corednsVersion is the anchor; `make bin/coredns`
	// installs it, and the bench runs the same command when it is missing.
	corednsModule  = "github.com/coredns/coredns"
	corednsVersion = "v1.12.4"
	// upstreamTimeout is dcnet-dns's --timeout; the upstream is local.
	upstreamTimeout = 2 * time.Second
	// readyTimeout bounds loading the cluster (100,000 tasks) until the
	// first answer; buildTimeout bounds `go build` and `go install`.
	readyTimeout  = 3 * time.Minute
	readyInterval = 100 * time.Millisecond
	buildTimeout  = 10 * time.Minute
	digTimeout    = 5 * time.Second
)

// Server names, as reported.
const (
	srvDCNet   = "dcnet-dns"
	srvCoreDNS = "CoreDNS"
)

// server is one DNS server under test.
type server struct {
	Name  string
	Node  *netsim.Node
	Proc  *netsim.Process
	Addr  string        // listen IP, port 53
	Ready time.Duration // start until the first answer
	// Cluster and Forward say which query sets it serves: the cluster
	// names, the forwarded names.
	Cluster, Forward bool
	// Version is its version, as reported.
	Version string
}

// env is everything the run made: the temporary directory, the fabric with
// its nodes (upstream, dcnet, coredns, client), the processes. Close
// removes all of it.
type env struct {
	*benchkit.Env // the temporary directory, the fabric, processes and clients
	Data          clusterData
	Upstream      *netsim.Node
	Client        *netsim.Node
	Servers       []*server // dcnet-dns, CoreDNS, Knot DNS, Unbound
	// Published is how long the Mesos-DNS master took from its start
	// until etcd held every task name.
	Published time.Duration
	// StateNode runs the state-file dcnet-dns of the context figure.
	StateNode    *netsim.Node
	dcnetBin     string
	etcdEndpoint string
}

// newEnv builds the binaries, generates the cluster and starts unbound,
// dcnet-dns and CoreDNS, each in its own node netns of be, waiting until
// both servers answer a cluster name and a forwarded one.
func newEnv(ctx context.Context, be *benchkit.Env, o options, log io.Writer) (e *env, err error) {
	e = &env{Env: be}
	dcnetBin := filepath.Join(e.Tmp, "bin", "dcnet-dns")
	e.dcnetBin = dcnetBin
	if err := run(ctx, buildTimeout, "", "go", "build", "-o", dcnetBin, "./dns/cmd/dcnet-dns"); err != nil {
		return e, err
	}
	coredns, err := findCoreDNS(ctx, o.Bin, filepath.Join(e.Tmp, "bin", "coredns"), log)
	if err != nil {
		return e, err
	}
	version, err := output(ctx, coredns, "-version")
	if err != nil {
		return e, err
	}
	coreVersion := "CoreDNS " + corednsVersion
	if f := strings.Fields(version); len(f) > 0 {
		coreVersion = f[0]
	}
	fmt.Fprintf(log, "bench/dns: generating %d tasks and %d named VIPs\n", o.Tasks, o.VIPs)
	if e.Data, err = writeData(e.Tmp, o.Tasks, o.VIPs, o.Queries); err != nil {
		return e, fmt.Errorf("generate cluster: %w", err)
	}
	var nodes [8]*netsim.Node
	for i, name := range []string{"upstream", "dcnet", "coredns", "client", "master", "statefile", "knot", "unbound"} {
		if nodes[i], err = e.Fabric.AddNode(name); err != nil {
			return e, err
		}
	}
	e.Upstream, e.Client, e.StateNode = nodes[0], nodes[3], nodes[5]
	dcnetNode, coreNode, master, knotNode, unboundNode := nodes[1], nodes[2], nodes[4], nodes[6], nodes[7]
	if err := e.startUnbound(ctx); err != nil {
		return e, err
	}
	up := e.Upstream.UnderlayIP.String()
	if err := e.publish(ctx, o, master, up); err != nil {
		return e, err
	}
	gomax := "GOMAXPROCS=" + strconv.Itoa(o.GoMaxProcs)
	d := &server{Name: srvDCNet, Node: dcnetNode, Addr: dcnetNode.UnderlayIP.String(), Cluster: true, Forward: true, Version: "dcnet-dns"}
	// The client asks the node's underlay address from another node: it
	// is a --recursion-net (the node forwards for no one else there).
	argv := []string{"env", gomax, dcnetBin, "--listen", d.Addr + ":53", "--spartan-link", "", "--http-addr", "",
		"--etcd-endpoints", e.etcdEndpoint, "--upstream", up, "--timeout", upstreamTimeout.String(),
		"--recursion-net", e.Client.UnderlayIP.String() + "/32"}
	if err := e.startServer(ctx, d, append(slices.Clone(serverCPU), argv...)...); err != nil {
		return e, err
	}
	if o.VIPs > 0 {
		if err := e.waitAnswer(ctx, d.Proc, d.Addr, vipName(o.VIPs-1), vipIP(o.VIPs-1)); err != nil {
			return e, fmt.Errorf("%s: %w", d.Name, err)
		}
	}
	c := &server{Name: srvCoreDNS, Node: coreNode, Addr: coreNode.UnderlayIP.String(), Cluster: true, Forward: true, Version: coreVersion}
	corefile := filepath.Join(e.Tmp, "Corefile")
	if err := os.WriteFile(corefile, []byte(corefileFor(c.Addr, e.Data.ZoneFile, e.Data.VIPZoneFile, up)), 0o644); err != nil {
		return e, err
	}
	if err := e.startServer(ctx, c, append(slices.Clone(serverCPU), "env", gomax, coredns, "-conf", corefile)...); err != nil {
		return e, err
	}
	k := &server{Name: srvKnot, Node: knotNode, Addr: knotNode.UnderlayIP.String(), Version: anchorVersion(ctx, knotNode.Namespace, srvKnot, "knotd", "-V")}
	if err := e.startKnot(ctx, k, o.GoMaxProcs); err != nil {
		return e, err
	}
	u := &server{Name: srvUnbound, Node: unboundNode, Addr: unboundNode.UnderlayIP.String(), Version: anchorVersion(ctx, unboundNode.Namespace, srvUnbound, "unbound", "-V")}
	if err := e.startUnboundCache(ctx, u, up, o.GoMaxProcs); err != nil {
		return e, err
	}
	e.Servers = []*server{d, c, k, u}
	return e, nil
}

// corefileFor serves the task zone and the VIP names from the generated
// zone files (no reload scans) and forwards everything else to the
// upstream through a cache, as dcnet-dns does.
func corefileFor(ip, zoneFile, vipZoneFile, upstream string) string {
	return fmt.Sprintf(`%s:53 {
	bind %s
	file %s {
		reload 0
	}
}
l4lb.thisdcos.directory:53 {
	bind %s
	file %s {
		reload 0
	}
}
.:53 {
	bind %s
	forward . %s
	cache
}
`, records.TaskZone, ip, zoneFile, ip, vipZoneFile, ip, upstream)
}

// publish starts etcd and a Mesos-DNS master in node m: the master polls
// the generated state and publishes its task names to etcd, as on a DC/OS
// master; the named VIPs are written as dcnet-l4lb writes them. It returns
// once etcd holds every name.
func (e *env) publish(ctx context.Context, o options, m *netsim.Node, upstream string) error {
	etcd, err := clustersim.StartEtcd(ctx, e, clustersim.EtcdOptions{Nodes: []*netsim.Node{m}, Dir: e.Tmp})
	if err != nil {
		return err
	}
	endpoint, c := etcd.Endpoints(), etcd.Client
	e.etcdEndpoint = endpoint
	if err := writeVIPNames(ctx, c, o.VIPs); err != nil {
		return err
	}
	t0 := time.Now()
	argv := []string{e.dcnetBin, "--mode", "mesos-dns", "--mesos-state-file", e.Data.StateFile, "--etcd-endpoints", endpoint,
		"--listen", m.UnderlayIP.String() + ":61053", "--http-addr", "", "--upstream", upstream}
	if o.Refresh > 0 {
		argv = append(argv, "--refresh", o.Refresh.String())
	}
	p, err := e.Start(m, filepath.Join(e.Tmp, "mesos-dns.log"), argv...)
	if err != nil {
		return err
	}
	if err := waitKeys(ctx, c, cluster.TaskNamesPrefix, e.Data.TaskNames, p); err != nil {
		return err
	}
	e.Published = time.Since(t0)
	return nil
}

// startUnbound runs Debian's unbound as the upstream of both servers:
// every name below forwardZone answers forwardIP, all others NXDOMAIN, and
// it never asks anyone.
func (e *env) startUnbound(ctx context.Context) error {
	dir := filepath.Join(e.Tmp, "unbound")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path, err := netsim.WriteUnboundConf(dir, e.Upstream.UnderlayIP, forwardZone, forwardTTL, forwardIP)
	if err != nil {
		return err
	}
	p, err := e.Start(e.Upstream, filepath.Join(dir, "unbound.log"), "unbound", "-d", "-c", path)
	if err != nil {
		return err
	}
	return e.waitAnswer(ctx, p, e.Upstream.UnderlayIP.String(), "ready."+forwardZone, forwardIP)
}

// startServer starts s and waits until it answers a cluster name and a
// forwarded one, as far as it serves them.
func (e *env) startServer(ctx context.Context, s *server, argv ...string) error {
	t0 := time.Now()
	var err error
	if s.Proc, err = e.Start(s.Node, filepath.Join(e.Tmp, s.Node.Name+".log"), argv...); err != nil {
		return err
	}
	if s.Cluster {
		if err := e.waitAnswer(ctx, s.Proc, s.Addr, e.Data.SampleName, e.Data.SampleIP); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	if s.Forward {
		if err := e.waitAnswer(ctx, s.Proc, s.Addr, "ready."+forwardZone, forwardIP); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	s.Ready = time.Since(t0)
	return nil
}

// waitAnswer asks name of server from the client node with dig until it
// answers want, p exits or readyTimeout passes.
func (e *env) waitAnswer(ctx context.Context, p *netsim.Process, server, name, want string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		dctx, cancel := context.WithTimeout(ctx, digTimeout)
		out, err := e.Client.Run(dctx, "dig", "+short", "+time=1", "+tries=1", "@"+server, name)
		cancel()
		got := strings.TrimSpace(out)
		if err == nil && got == want {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before answering %s\n%s", p.Argv[0], name, netsim.TailFile(p.LogPath, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(readyInterval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dig @%s %s: %q (%v), want %s after %v\n%s", server, name, got, err, want, readyTimeout, netsim.TailFile(p.LogPath, 20))
		}
	}
}

// findCoreDNS copies binDir/coredns to dst, installing it there first
// (`GOBIN=binDir go install coredns@version`, as `make bin/coredns` does)
// when it is missing.
func findCoreDNS(ctx context.Context, binDir, dst string, log io.Writer) (string, error) {
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return "", err
	}
	src := filepath.Join(abs, "coredns")
	if _, err := os.Stat(src); err != nil {
		fmt.Fprintf(log, "bench/dns: %s missing: go install %s@%s (about 2 minutes the first time)\n", src, corednsModule, corednsVersion)
		if err := run(ctx, buildTimeout, "GOBIN="+abs, "go", "install", corednsModule+"@"+corednsVersion); err != nil {
			return "", err
		}
	}
	if err := benchkit.CopyExecutable(src, dst); err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	return dst, nil
}

// run runs a command with an optional extra environment variable.
func run(ctx context.Context, timeout time.Duration, env string, argv ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if env != "" {
		cmd.Env = append(os.Environ(), env)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

func output(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, digTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return string(out), nil
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// readCPU is the CPU time (user + system) pid has used so far.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which may hold spaces: state is
	// the first, utime and stime the 12th and 13th.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(u+st) * clockTick, nil
}
