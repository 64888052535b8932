package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/l4lb/dataplane"
)

// installResult times full installs of the largest VIP count into an
// empty table: planning (dataplane.Build) and the first Apply of a new
// Syncer (which reads the empty table back and sends one batch).
type installResult struct {
	VIPs     int
	Elements int
	Build    []time.Duration
	Apply    []time.Duration
}

func (e *env) runInstall(ctx context.Context, reps int) (*installResult, error) {
	n := otherVIPs[len(otherVIPs)-1]
	res := &installResult{VIPs: n}
	for range reps {
		for _, fam := range dataplane.Families {
			// A missing table is fine: the first rep starts from none.
			e.dcnet.node.Run(ctx, "nft", "delete", "table", fam.String(), dataplane.TableName)
		}
		t0 := time.Now()
		p, err := plan(n, e.dcnet.backends)
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		s := dataplane.NewSyncer(e.kernel, nil)
		r, err := s.Apply(p)
		t2 := time.Now()
		if err != nil {
			return nil, fmt.Errorf("install %d VIPs: %w", n, err)
		}
		res.Build = append(res.Build, t1.Sub(t0))
		res.Apply = append(res.Apply, t2.Sub(t1))
		res.Elements = r[0].Changes
		e.syncer = s
	}
	return res, nil
}

// changeResult times single-VIP changes with the largest VIP count
// installed: a backend of one VIP replaced (then put back), which the
// kernel commits as an element delete plus add, and a new VIP added (then
// removed again, untimed), which is adds only.
type changeResult struct {
	VIPs      int
	Build     []time.Duration // dataplane.Build of every VIP, per change
	Apply     []time.Duration // Syncer.Apply of a replaced backend
	Kernel    []time.Duration // of which the netlink batch (send to ack)
	Add       []time.Duration // Syncer.Apply of an added VIP
	AddKernel []time.Duration
	Reconcile []time.Duration // Syncer.Reconcile of a replaced backend (read-back), for comparison
}

// timedKernel measures the time spent in the kernel's Apply.
type timedKernel struct {
	dataplane.Kernel
	last time.Duration
}

func (k *timedKernel) Apply(b dataplane.Batch) error {
	t0 := time.Now()
	err := k.Kernel.Apply(b)
	k.last = time.Since(t0)
	return err
}

func (e *env) runChanges(ctx context.Context, changes, reconciles int) (*changeResult, error) {
	n := otherVIPs[len(otherVIPs)-1]
	res := &changeResult{VIPs: n}
	base, err := plan(n, e.dcnet.backends)
	if err != nil {
		return nil, err
	}
	tk := &timedKernel{Kernel: e.kernel}
	s := dataplane.NewSyncer(tk, nil)
	if _, err := s.Apply(base); err != nil {
		return nil, err
	}
	step := func(ss []dataplane.Service, reconcile bool, want int) (time.Duration, error) {
		t0 := time.Now()
		p, errs := dataplane.Build(ss)
		if len(errs) > 0 {
			return 0, fmt.Errorf("plan: %v", errs)
		}
		t1 := time.Now()
		var r []dataplane.Result
		if reconcile {
			r, err = s.Reconcile(p)
		} else {
			r, err = s.Apply(p)
		}
		took := time.Since(t1)
		if err != nil {
			return 0, err
		}
		if want >= 0 && r[0].Changes != want {
			return 0, fmt.Errorf("sent %d operations, want %d", r[0].Changes, want)
		}
		res.Build = append(res.Build, t1.Sub(t0))
		return took, nil
	}
	for i := range changes + reconciles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Even steps replace a backend of VIP m, odd steps put it back:
		// every step changes exactly one VIP (one element deleted, one added).
		moved, flip := (i/2*7919)%n, i%2 == 0
		took, err := step(services(n, e.dcnet.backends, moved, flip), i >= changes, 2)
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		if i < changes {
			res.Apply = append(res.Apply, took)
			res.Kernel = append(res.Kernel, tk.last)
		} else {
			res.Reconcile = append(res.Reconcile, took)
		}
	}
	// Added VIPs: 1 verdict element and numBackend backend elements.
	for i := range changes / 2 {
		ss := services(n, e.dcnet.backends, -1, false)
		ss = append(ss, service(otherVIP(n+i), otherBackends(n+i)))
		took, err := step(ss, false, 1+numBackend)
		if err != nil {
			return nil, fmt.Errorf("add %d: %w", i, err)
		}
		res.Add = append(res.Add, took)
		res.AddKernel = append(res.AddKernel, tk.last)
		if _, err := step(services(n, e.dcnet.backends, -1, false), false, 1+numBackend); err != nil {
			return nil, fmt.Errorf("remove %d: %w", i, err)
		}
	}
	res.Build = res.Build[:changes]
	e.syncer = dataplane.NewSyncer(e.kernel, nil)
	return res, nil
}

// holdReport is what the hold child says once it holds its state.
type holdReport struct {
	VIPs      int    `json:"vips"`
	HeapInuse uint64 `json:"heapInuse"`
	Sys       uint64 `json:"sys"`
}

// hold plans n VIPs (args[0]) of numBackend backends, applies them to the
// nftables of its own netns with a Syncer, keeps the services and the
// Syncer (what dcnet-l4lb keeps between changes) and reports.
func hold(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	ss := services(n, otherBackends(n+1), -1, false)
	p, errs := dataplane.Build(ss)
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	s := dataplane.NewSyncer(dataplane.NewNFTables(), nil)
	if _, err := s.Apply(p); err != nil {
		return err
	}
	p = dataplane.Plan{}
	freeMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := json.Marshal(holdReport{VIPs: n, HeapInuse: ms.HeapInuse, Sys: ms.Sys})
	fmt.Println(string(b))
	io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(ss)
	runtime.KeepAlive(s)
	return nil
}

// memoryResult is the resident memory of the hold child.
type memoryResult struct {
	VIPs   int
	RSSKiB int
	Heap   holdReport
}

func (e *env) runMemory(ctx context.Context) (*memoryResult, error) {
	node, err := e.Fabric.AddNode("mem")
	if err != nil {
		return nil, err
	}
	n := otherVIPs[len(otherVIPs)-1]
	c, err := startChild(ctx, node.Namespace, "hold", false, roleHold, strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	defer c.stop()
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	res := &memoryResult{VIPs: n}
	if err := json.Unmarshal(line, &res.Heap); err != nil {
		return nil, fmt.Errorf("hold: %w: %s", err, strings.TrimSpace(string(line)))
	}
	mem, err := benchkit.ReadMemory(c.cmd.Process.Pid)
	res.RSSKiB = mem.RSSKiB()
	return res, err
}
