package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// maxListed bounds how many leftovers an error names.
const maxListed = 5

// checkClean verifies that DEL left nothing: overlayd holds no attachment,
// host-local's directory holds no lease, the node has no veth and no
// container netns of jobs still has eth0.
func (b *bench) checkClean(ctx context.Context, jobs []job) error {
	as, err := b.env.Overlayd.API.Attachments(ctx)
	if err != nil {
		return fmt.Errorf("after DEL: list overlayd attachments: %w", err)
	}
	if len(as) > 0 {
		ids := make([]string, 0, maxListed)
		for _, a := range as[:min(len(as), maxListed)] {
			ids = append(ids, a.AttachmentID.String())
		}
		return fmt.Errorf("after DEL overlayd still holds %d attachments (%s ...)", len(as), strings.Join(ids, ", "))
	}
	leases, err := hostLocalLeases(filepath.Join(b.env.HostLocalDir, refNetwork))
	if err != nil {
		return fmt.Errorf("after DEL: %w", err)
	}
	if len(leases) > 0 {
		return fmt.Errorf("after DEL host-local still holds %d leases in %s (%s ...)",
			len(leases), b.env.HostLocalDir, strings.Join(leases[:min(len(leases), maxListed)], ", "))
	}
	var veths []string
	err = b.env.Node.Do(func(ns.NetNS) error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Type() == "veth" && l.Attrs().Name != "eth0" {
				veths = append(veths, l.Attrs().Name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("after DEL: list links of node netns: %w", err)
	}
	if len(veths) > 0 {
		return fmt.Errorf("after DEL the node still has %d veths (%s ...)", len(veths), strings.Join(veths[:min(len(veths), maxListed)], ", "))
	}
	for _, j := range jobs {
		err := ns.WithNetNSPath(j.NetNS, func(ns.NetNS) error {
			if _, err := netlink.LinkByName(ifName); err == nil {
				return fmt.Errorf("after DEL of container %s, netns %s still has %s", j.ID, j.NetNS, ifName)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// hostLocalLeases lists the lease files of a host-local network directory
// (files named by an IP address); a missing directory holds none.
func hostLocalLeases(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read host-local directory: %w", err)
	}
	var leases []string
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			leases = append(leases, e.Name())
		}
	}
	return leases, nil
}

// checkShape ADDs the probe container with p (untimed), checks that it got
// what both plugins are configured to give and describes it, then DELs it.
func (b *bench) checkShape(ctx context.Context, p *plugin) (string, error) {
	id := "bcni-shape-" + p.Name
	netns := b.env.Probe.Path
	var res *current.Result
	err := b.drv.inNode(ctx, func() error {
		var err error
		_, res, err = b.drv.add(ctx, p, id, netns)
		return err
	})
	if err != nil {
		return "", err
	}
	shape, serr := inspect(b.env, p, res)
	derr := b.drv.inNode(ctx, func() error {
		_, err := b.drv.del(ctx, p, id, netns)
		return err
	})
	if err := errors.Join(serr, derr); err != nil {
		return "", err
	}
	return shape, b.checkClean(ctx, []job{{ID: id, NetNS: netns}})
}

// inspect reads the container's eth0 and the host end from the kernel and
// checks them against what both plugins are configured to give.
func inspect(e *env, p *plugin, res *current.Result) (string, error) {
	var cont string
	err := ns.WithNetNSPath(e.Probe.Path, func(ns.NetNS) error {
		var err error
		cont, err = inspectContainer()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("container netns %s: %w", e.Probe.NSName, err)
	}
	hostName := ""
	for _, iface := range res.Interfaces {
		if iface.Sandbox == "" && iface.Name != p.Bridge {
			hostName = iface.Name
		}
	}
	if hostName == "" {
		return "", fmt.Errorf("ADD result names no host interface besides the bridge: %+v", res.Interfaces)
	}
	var host string
	err = e.Node.Do(func(ns.NetNS) error {
		var err error
		host, err = inspectHost(hostName, p.Bridge)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("node netns %s: %w", e.Node.NSName, err)
	}
	return cont + "; " + host, nil
}

// inspectContainer checks eth0 in the current netns: MTU, one IPv4 address,
// a default route.
func inspectContainer() (string, error) {
	link, err := netlink.LinkByName(ifName)
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", ifName, err)
	}
	if mtu := link.Attrs().MTU; mtu != wantMTU {
		return "", fmt.Errorf("%s mtu %d, want %d", ifName, mtu, wantMTU)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return "", fmt.Errorf("addresses of %s: %w", ifName, err)
	}
	if len(addrs) != 1 {
		return "", fmt.Errorf("%s has %d IPv4 addresses, want 1", ifName, len(addrs))
	}
	routes, err := netlink.RouteList(link, netlink.FAMILY_V4)
	if err != nil {
		return "", fmt.Errorf("routes of %s: %w", ifName, err)
	}
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw != nil {
			return fmt.Sprintf("%s %s mtu %d, default via %s", ifName, addrs[0].IPNet, wantMTU, r.Gw), nil
		}
	}
	return "", fmt.Errorf("%s has no default route", ifName)
}

// inspectHost checks the host end in the current netns: on bridge, MTU,
// hairpin mode, up.
func inspectHost(name, bridge string) (string, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return "", fmt.Errorf("look up host end %s: %w", name, err)
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return "", fmt.Errorf("look up bridge %s: %w", bridge, err)
	}
	a := link.Attrs()
	if a.MasterIndex != br.Attrs().Index {
		return "", fmt.Errorf("host end %s is not on bridge %s", name, bridge)
	}
	if a.MTU != wantMTU {
		return "", fmt.Errorf("host end %s mtu %d, want %d", name, a.MTU, wantMTU)
	}
	pi, err := netlink.LinkGetProtinfo(link)
	if err != nil {
		return "", fmt.Errorf("bridge port flags of %s: %w", name, err)
	}
	if !pi.Hairpin {
		return "", fmt.Errorf("host end %s has hairpin mode off", name)
	}
	if a.Flags&net.FlagUp == 0 {
		return "", fmt.Errorf("host end %s is down", name)
	}
	return fmt.Sprintf("host end %s on %s, mtu %d, hairpin on", name, bridge, a.MTU), nil
}
