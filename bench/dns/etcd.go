package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Bounds of the run's etcd use.
const (
	etcdOpTimeout = 10 * time.Second
	// publishTimeout bounds the Mesos-DNS master publishing every task
	// name to etcd.
	publishTimeout = 3 * time.Minute
)

// writeVIPNames writes the named VIP records as dcnet-l4lb does (one key
// per name under cluster.VIPNamesPrefix, value a cluster.VIPName), in
// transactions of cluster.MaxTxnOps puts.
func writeVIPNames(ctx context.Context, c *clientv3.Client, vips int) error {
	ops := make([]clientv3.Op, 0, vips)
	for i := range vips {
		b, err := json.Marshal(cluster.VIPName{Name: vipName(i), Addrs: []string{vipIP(i)}})
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(cluster.VIPNamesPrefix+vipName(i), string(b)))
	}
	if err := benchkit.CommitChunked(ctx, c, ops, cluster.MaxTxnOps, etcdOpTimeout); err != nil {
		return fmt.Errorf("write vip names: %w", err)
	}
	return nil
}

// waitKeys waits until etcd holds want keys under prefix (the Mesos-DNS
// master publishing the task names), or p exits, or publishTimeout.
func waitKeys(ctx context.Context, c *clientv3.Client, prefix string, want int, p *netsim.Process) error {
	var got int64
	err := netsim.WaitFor(ctx, publishTimeout, 200*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited\n%s", p.Argv[0], netsim.TailFile(p.LogPath, 20))
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, etcdOpTimeout)
		defer cancel()
		resp, err := c.Get(cctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		if got = resp.Count; got != int64(want) {
			return fmt.Errorf("%d of %d keys under %s", got, want, prefix)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("task names in etcd: %w", err)
	}
	return nil
}

// stateFigure is the context memory figure: a node-mode dcnet-dns that
// reads a Mesos state file itself (no etcd).
type stateFigure struct {
	Tasks, TaskRecords, MesosRecords int
	Ready                            time.Duration
	Loaded, Refreshed                benchkit.Memory
}

// stateFileFigure starts a node-mode dcnet-dns on a generated state of
// o.StateTasks tasks in its own node, reads its VmRSS once it answers and
// again after two re-reads of the (unchanged) file, and stops it.
func (e *env) stateFileFigure(ctx context.Context, o options) (stateFigure, error) {
	f := stateFigure{Tasks: o.StateTasks}
	path := filepath.Join(e.Tmp, "state-context.json")
	st, err := writeState(path, o.StateTasks)
	if err != nil {
		return f, err
	}
	cfg := records.DefaultConfig()
	names, err := records.TaskNames(st, cfg)
	if err != nil {
		return f, err
	}
	all, err := records.Generate(st, cfg)
	if err != nil {
		return f, err
	}
	f.TaskRecords, f.MesosRecords = names.Len(), all.Len()
	st, names, all = mesos.State{}, records.RecordSet{}, records.RecordSet{}
	refresh := o.Refresh
	if refresh <= 0 {
		refresh = poll.DefaultInterval
	}
	s := &server{Name: "dcnet-dns (state file)", Node: e.StateNode, Addr: e.StateNode.UnderlayIP.String()}
	argv := []string{"env", "GOMAXPROCS=" + strconv.Itoa(o.GoMaxProcs), e.dcnetBin, "--listen", s.Addr + ":53", "--spartan-link", "",
		"--http-addr", "", "--mesos-state-file", path, "--refresh", refresh.String(), "--upstream", e.Upstream.UnderlayIP.String()}
	t0 := time.Now()
	if s.Proc, err = e.Start(s.Node, filepath.Join(e.Tmp, "statefile.log"), argv...); err != nil {
		return f, err
	}
	defer s.Proc.Stop()
	name := fmt.Sprintf("%s.%s.%s.%s", taskName(o.StateTasks/2), framework, clusterKind, records.TaskZone)
	if err := e.waitAnswer(ctx, s.Proc, s.Addr, name, containerIP(o.StateTasks/2)); err != nil {
		return f, err
	}
	f.Ready = time.Since(t0)
	if f.Loaded, err = benchkit.ReadMemory(s.Proc.PID()); err != nil {
		return f, err
	}
	select {
	case <-ctx.Done():
		return f, ctx.Err()
	case <-time.After(2*refresh + time.Second):
	}
	f.Refreshed, err = benchkit.ReadMemory(s.Proc.PID())
	return f, err
}
