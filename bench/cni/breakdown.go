package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/dcnet/dcnet/overlayd/api"
)

// breakdownSamples is how many times each part is timed sequentially.
const breakdownSamples = 50

// Parts of an ADD or DEL that the breakdown times alone.
const (
	partStartDcnet = "dcnet start"         // VERSION call: exec, Go runtime start, skel
	partStartRef   = "bridge start"        // the same for bridge
	partAllocate   = "overlayd Allocate"   // overlayd's API, called from the bench as the plugin calls it
	partRelease    = "overlayd Release"    //
	partHostAdd    = "host-local ADD"      // host-local run alone, as bridge delegates to it
	partHostDel    = "host-local DEL"      //
	partVethAdd    = "veth create"         // a bare veth pair by netlink from the bench, no exec
	partVethDel    = "veth delete"         //
	breakdownVeth  = "bcnibreak0"          // host end of that pair
	breakdownIDFmt = "bcni-breakdown-%03d" // container IDs of the breakdown
)

// breakdown splits an ADD and a DEL into parts, each timed alone:
// sequentially (all parts) and with the concurrent workload's number of
// invocations in flight (the parts that need no netns of their own). What
// a full ADD/DEL takes beyond them is the plugin's other netns and netlink
// work, config parsing and result writing.
type breakdown struct {
	Workers int
	Seq     map[string]summary
	Conc    map[string]summary
}

// measureBreakdown times the parts from the node netns and checks that
// nothing is left allocated afterwards.
func (b *bench) measureBreakdown(ctx context.Context) (breakdown, error) {
	bd := breakdown{Workers: b.opts.Workers, Conc: map[string]summary{}}
	var err error
	if bd.Seq, err = b.sequentialParts(ctx); err != nil {
		return bd, err
	}
	n := b.opts.Conc
	for _, phase := range []struct {
		part string
		fn   func(i int) error
	}{
		{partStartDcnet, func(int) error { return b.version(ctx, b.dcnet) }},
		{partStartRef, func(int) error { return b.version(ctx, b.ref) }},
		{partAllocate, func(i int) error { return b.allocate(ctx, fmt.Sprintf(breakdownIDFmt, i)) }},
		{partRelease, func(i int) error { return b.release(ctx, fmt.Sprintf(breakdownIDFmt, i)) }},
		{partHostAdd, func(i int) error { return b.hostLocal(ctx, "ADD", fmt.Sprintf(breakdownIDFmt, i)) }},
		{partHostDel, func(i int) error { return b.hostLocal(ctx, "DEL", fmt.Sprintf(breakdownIDFmt, i)) }},
	} {
		lat, err := b.concurrently(ctx, b.opts.Workers, n, phase.fn)
		if err != nil {
			return bd, fmt.Errorf("%s at %d concurrent: %w", phase.part, b.opts.Workers, err)
		}
		bd.Conc[phase.part] = summarize(lat)
	}
	return bd, b.checkClean(ctx, nil)
}

// sequentialParts times every part one at a time, interleaved.
func (b *bench) sequentialParts(ctx context.Context) (map[string]summary, error) {
	probe, err := ns.GetNS(b.env.Probe.Path)
	if err != nil {
		return nil, fmt.Errorf("open probe netns: %w", err)
	}
	defer probe.Close()
	lat := map[string][]time.Duration{}
	err = b.drv.inNode(ctx, func() error {
		for i := range breakdownSamples {
			id := fmt.Sprintf(breakdownIDFmt, i)
			for _, p := range []struct {
				part string
				fn   func() error
			}{
				{partStartDcnet, func() error { return b.version(ctx, b.dcnet) }},
				{partStartRef, func() error { return b.version(ctx, b.ref) }},
				{partAllocate, func() error { return b.allocate(ctx, id) }},
				{partRelease, func() error { return b.release(ctx, id) }},
				{partHostAdd, func() error { return b.hostLocal(ctx, "ADD", id) }},
				{partHostDel, func() error { return b.hostLocal(ctx, "DEL", id) }},
				{partVethAdd, func() error { return vethAdd(probe) }},
				{partVethDel, vethDel},
			} {
				start := time.Now()
				if err := p.fn(); err != nil {
					return err
				}
				lat[p.part] = append(lat[p.part], time.Since(start))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]summary{}
	for part, l := range lat {
		out[part] = summarize(l)
	}
	return out, nil
}

// concurrently calls fn(0..n-1) from workers goroutines in the node netns
// and returns each call's latency; the first failure stops the rest.
func (b *bench) concurrently(ctx context.Context, workers, n int, fn func(i int) error) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = b.drv.inNode(ctx, func() error {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := ctx.Err(); err != nil {
						return err
					}
					start := time.Now()
					if err := fn(i); err != nil {
						cancel()
						return err
					}
					lat[i] = time.Since(start)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return lat, nil
}

// version runs the plugin's VERSION command.
func (b *bench) version(ctx context.Context, p *plugin) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := invoke.GetVersionInfo(ctx, p.Binary, b.drv.exec); err != nil {
		return fmt.Errorf("%s VERSION: %w", p.Name, err)
	}
	return nil
}

// allocate calls overlayd's Allocate with a fresh client, as the plugin
// does once per process.
func (b *bench) allocate(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := b.env.Overlayd.API.Allocate(ctx, api.AllocateRequest{
		AttachmentID: b.attachment(id),
		Runtime:      api.RuntimeCNI,
	})
	if err != nil {
		return fmt.Errorf("overlayd allocate %s: %w", id, err)
	}
	return nil
}

// release calls overlayd's Release with a fresh client.
func (b *bench) release(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := b.env.Overlayd.API.Release(ctx, b.attachment(id)); err != nil {
		return fmt.Errorf("overlayd release %s: %w", id, err)
	}
	return nil
}

func (b *bench) attachment(id string) api.AttachmentID {
	return api.AttachmentID{Network: dcnetNetwork, ContainerID: id, IfName: ifName}
}

// hostLocal runs host-local alone with the reference config, as bridge
// delegates to it.
func (b *bench) hostLocal(ctx context.Context, command, id string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	args := &invoke.Args{Command: command, ContainerID: id, NetNS: b.env.Probe.Path, IfName: ifName, Path: b.bins.RefDir}
	var err error
	if command == "ADD" {
		_, err = invoke.ExecPluginWithResult(ctx, b.bins.HostLocal, b.ref.Conf, args, b.drv.exec)
	} else {
		err = invoke.ExecPluginWithoutResult(ctx, b.bins.HostLocal, b.ref.Conf, args, b.drv.exec)
	}
	if err != nil {
		return fmt.Errorf("host-local %s %s: %w", command, id, err)
	}
	return nil
}

// vethAdd creates a veth pair from the current (node) netns with its peer
// eth0 in the container netns, as both plugins do first.
func vethAdd(container ns.NetNS) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = breakdownVeth, wantMTU
	v := &netlink.Veth{LinkAttrs: attrs, PeerName: ifName, PeerNamespace: netlink.NsFd(int(container.Fd()))}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s: %w", breakdownVeth, err)
	}
	return nil
}

// vethDel deletes the pair again (the peer goes with it), as both plugins'
// DEL does.
func vethDel() error {
	link, err := netlink.LinkByName(breakdownVeth)
	if err != nil {
		return fmt.Errorf("look up veth %s: %w", breakdownVeth, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("delete veth %s: %w", breakdownVeth, err)
	}
	return nil
}
