package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/google/nftables"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The daemon phase: Debian's etcd in its own netns, 10,000 VIPs of 3
// backends written as 30,000 endpoint records (what overlayd writes for
// containers labelled VIP_0=<ip>:80), and the real dcnet-l4lb binary in a
// node netns; once its nftables hold every VIP, its VmRSS is read.
const (
	etcdOpTimeout  = 10 * time.Second
	programTimeout = 90 * time.Second
	// RSS is read every rssInterval for rssWindow after the daemon has
	// programmed every VIP: the window spans more than one periodic sync
	// (daemon.DefaultSyncInterval, 10 s), whose read-back is its peak.
	rssInterval = 500 * time.Millisecond
	rssWindow   = 12 * time.Second
	agentNode   = "agent1" // the node that "runs" the backend containers
)

// daemonResult is the real binary's footprint.
type daemonResult struct {
	VIPs, Records int
	Binary        string
	Write         time.Duration // writing the records to etcd
	Programmed    time.Duration // from daemon start to every VIP in its nftables
	RSSKiB        int           // max of the samples
	LastRSSKiB    int           // the last sample
	MinRSSKiB     int
}

func (e *env) runDaemon(ctx context.Context, n int) (*daemonResult, error) {
	res := &daemonResult{VIPs: n, Records: n * numBackend}
	bin, err := e.l4lbBinary(ctx)
	if err != nil {
		return nil, err
	}
	res.Binary = bin.source
	etcdNode, err := e.Fabric.AddNode("etcd")
	if err != nil {
		return nil, err
	}
	// etcd 3.4 has no --unsafe-no-fsync: its data lives on tmpfs instead.
	dataDir, err := os.MkdirTemp(shmOrTmp(), "dcnet-bench-l4lb-etcd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	etcd, err := clustersim.StartEtcd(ctx, e, clustersim.EtcdOptions{Nodes: []*netsim.Node{etcdNode}, Dir: e.Tmp, DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	defer etcd.Stop()
	endpoint, cli := etcd.Endpoints(), etcd.Client
	// The backends' node is alive: dcnet-l4lb drops backends of nodes
	// without a liveness record.
	cctx, cancel := context.WithTimeout(ctx, etcdOpTimeout)
	_, err = cli.Put(cctx, cluster.AliveKey(agentNode), "{}")
	cancel()
	if err != nil {
		return nil, fmt.Errorf("etcd: liveness of %s: %w", agentNode, err)
	}
	t0 := time.Now()
	if err := writeEndpoints(ctx, cli, n); err != nil {
		return nil, err
	}
	res.Write = time.Since(t0)

	node, err := e.Fabric.AddNode("l4lb")
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	d, err := netsim.StartProcess(ctx, node, filepath.Join(e.Tmp, "dcnet-l4lb.log"), bin.path,
		"--etcd-endpoints", endpoint, "--node-name", "l4lb", "--http-addr", "", "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	defer d.Stop()
	if daemonLogCopy != "" {
		defer func() {
			if b, err := os.ReadFile(d.LogPath); err == nil {
				os.WriteFile(daemonLogCopy, b, 0o644)
			}
		}()
	}
	h, err := os.Open(node.Path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	k := dataplane.NewNFTables(nftables.WithNetNSFd(int(h.Fd())))
	defer k.Close()
	err = netsim.WaitFor(ctx, programTimeout, 250*time.Millisecond, func() error {
		select {
		case <-d.Done():
			return errors.New("dcnet-l4lb exited: " + netsim.TailFile(d.LogPath, 10))
		default:
		}
		cur, err := k.Read(dataplane.IPv4)
		if err != nil {
			return err
		}
		if len(cur.VIPs) != n {
			return fmt.Errorf("%d of %d VIPs programmed", len(cur.VIPs), n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dcnet-l4lb (log %s): %w", d.LogPath, err)
	}
	res.Programmed = time.Since(t0)
	for range int(rssWindow / rssInterval) {
		time.Sleep(rssInterval)
		mem, err := benchkit.ReadMemory(d.PID())
		if err != nil {
			return nil, err
		}
		kib := mem.RSSKiB()
		res.RSSKiB = max(res.RSSKiB, kib)
		res.MinRSSKiB = min(cmp.Or(res.MinRSSKiB, kib), kib)
		res.LastRSSKiB = kib
	}
	return res, nil
}

// writeEndpoints writes n VIPs x numBackend endpoint records, one
// container per record: VIP i is 11.1.x.y:80, its backends the containers
// 9.<100+j>.x.y, port 80.
func writeEndpoints(ctx context.Context, cli *clientv3.Client, n int) error {
	var ops []clientv3.Op
	for i := range n {
		for j, b := range otherBackends(i) {
			cid := fmt.Sprintf("c%05d-%d", i, j)
			ep := cluster.Endpoint{
				Network: "dcos", ContainerID: cid, IfName: "eth0",
				IPs:    []cluster.EndpointIP{{Address: netip.PrefixFrom(b.Addr(), 8).String()}},
				Labels: map[string]string{"VIP_0": fmt.Sprintf("%s:%d", otherVIP(i), vipPort)},
				Node:   agentNode, NodeIP: "198.18.0.200",
			}
			v, err := json.Marshal(ep)
			if err != nil {
				return err
			}
			ops = append(ops, clientv3.OpPut(cluster.EndpointKey(agentNode, "dcos", cid, "eth0"), string(v)))
		}
	}
	if err := benchkit.CommitChunked(ctx, cli, ops, cluster.MaxTxnOps, etcdOpTimeout); err != nil {
		return fmt.Errorf("write endpoint records: %w", err)
	}
	return nil
}

// daemonLogCopy is the -daemon-log flag.
var daemonLogCopy string

type l4lbBinary struct{ path, source string }

// l4lbBinary builds dcnet-l4lb from the tree being measured or, when that
// fails (a tree being edited), copies bin/dcnet-l4lb from `make build`.
func (e *env) l4lbBinary(ctx context.Context) (l4lbBinary, error) {
	dst := filepath.Join(e.Tmp, "bin", "dcnet-l4lb")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", dst, "./l4lb/cmd/dcnet-l4lb").CombinedOutput()
	if err == nil {
		return l4lbBinary{dst, "`go build ./l4lb/cmd/dcnet-l4lb` of this tree"}, nil
	}
	if _, serr := os.Stat("bin/dcnet-l4lb"); serr != nil {
		return l4lbBinary{}, fmt.Errorf("go build dcnet-l4lb: %w: %s", err, out)
	}
	return l4lbBinary{dst, "bin/dcnet-l4lb (`go build` of this tree failed)"}, benchkit.CopyExecutable("bin/dcnet-l4lb", dst)
}

func shmOrTmp() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// etcdVersion is the first line of `etcd --version`.
func etcdVersion() string {
	out, err := exec.Command("etcd", "--version").Output()
	if err != nil {
		return "(etcd --version failed)"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(line, "etcd Version:"))
}

// runOnlyDaemon is -only-daemon: the dcnet-l4lb phase alone, printed and
// not written anywhere.
func runOnlyDaemon(ctx context.Context, be *benchkit.Env, progress func(string)) error {
	e := &env{Env: be}
	d, err := e.runDaemon(ctx, otherVIPs[len(otherVIPs)-1])
	if err != nil {
		return err
	}
	progress("dcnet-l4lb memory measured")
	fmt.Printf("dcnet-l4lb from %s: %d VIPs x %d backends (%d endpoint records, written in %s); every VIP programmed %s after start; "+
		"VmRSS every %v for %v: max %.1f MiB, min %.1f MiB, last %.1f MiB\n",
		d.Binary, d.VIPs, numBackend, d.Records, ms(d.Write), ms(d.Programmed), rssInterval, rssWindow,
		float64(d.RSSKiB)/kibPerMiB, float64(d.MinRSSKiB)/kibPerMiB, float64(d.LastRSSKiB)/kibPerMiB)
	return nil
}
