package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dcnet/dcnet/internal/clustersim"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/config"
	"github.com/vishvananda/netlink"
)

// Overlay facts the bench relies on (overlayd's defaults).
const (
	overlayName = config.DefaultOverlay
	vtepName    = config.DefaultVTEPName
	bridgeName  = "m-" + config.DefaultOverlay
	underlayDev = netsim.UnderlayDev

	overlaydReadyTimeout = 60 * time.Second
	apiTimeout           = 5 * time.Second
)

// node is a simulated node running overlayd against an external etcd.
type node struct {
	*netsim.Node
	OD  *clustersim.Overlayd
	CNI clustersim.CNITool // with NETCONFPATH the node's own
	NL  *netlink.Handle    // netlink inside the node netns
}

// addNode creates node name on the fabric with a netlink handle in it.
func (e *env) addNode(name string) (*node, error) {
	n, err := e.Fabric.AddNode(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.Tmp, name)
	nd := &node{Node: n, OD: clustersim.NewOverlayd(e, n, e.Bins.Overlayd, dir), CNI: e.Bins.CNI}
	nd.CNI.ConfDir = filepath.Join(dir, "cni")
	if nd.NL, err = e.openNetlink(n.Namespace); err != nil {
		return nil, err
	}
	return nd, nil
}

// startOverlayd runs overlayd (default config) against endpoint; metrics
// "" disables its metrics listener. It does not wait.
func (e *env) startOverlayd(nd *node, endpoint, metrics string) error {
	nd.OD.Etcd, nd.OD.Metrics = endpoint, metrics
	return nd.OD.Launch()
}

// startCluster adds a node for each name, starts overlayd on all of them
// against endpoint, then waits until each has its dcos subnet and every
// node programs all the others. stop stops every overlayd by its PID; the
// caller defers it, also after an error.
func (e *env) startCluster(ctx context.Context, endpoint string, timeout time.Duration, names ...string) (nodes []*node, subnets map[string]netip.Prefix, stop func(), err error) {
	stop = func() {
		for _, nd := range nodes {
			nd.OD.Proc.Stop()
		}
	}
	for _, name := range names {
		nd, err := e.addNode(name)
		if err != nil {
			return nodes, nil, stop, err
		}
		if err := e.startOverlayd(nd, endpoint, ""); err != nil {
			return nodes, nil, stop, err
		}
		nodes = append(nodes, nd)
	}
	subnets = map[string]netip.Prefix{}
	for _, nd := range nodes {
		if subnets[nd.Name], err = nd.waitReady(ctx); err != nil {
			return nodes, nil, stop, err
		}
	}
	return nodes, subnets, stop, converged(ctx, nodes, subnets, timeout)
}

// waitReady waits until overlayd has leased the node's subnet of the dcos
// overlay and returns it.
func (nd *node) waitReady(ctx context.Context) (netip.Prefix, error) {
	nets, err := nd.OD.WaitReady(ctx, overlaydReadyTimeout)
	if err != nil {
		return netip.Prefix{}, err
	}
	n, err := clustersim.Network(nets, overlayName)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.ParsePrefix(n.NodeSubnet)
}

// peerNames asks overlayd which peers it programs.
func (nd *node) peerNames(ctx context.Context) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	ps, err := nd.OD.API.Peers(cctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names, nil
}

// vtepRoutes returns the IPv4 routes through vtep1024 in the node's kernel.
func (nd *node) vtepRoutes() (map[netip.Prefix]bool, error) {
	link, err := nd.NL.LinkByName(vtepName)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", nd.Name, vtepName, err)
	}
	rs, err := nd.NL.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{LinkIndex: link.Attrs().Index}, netlink.RT_FILTER_OIF)
	if err != nil {
		return nil, fmt.Errorf("%s: list routes of %s: %w", nd.Name, vtepName, err)
	}
	out := make(map[netip.Prefix]bool, len(rs))
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		bits, _ := r.Dst.Mask.Size()
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			out[netip.PrefixFrom(a.Unmap(), bits)] = true
		}
	}
	return out, nil
}

// linkMTU returns the MTU of dev inside the namespace of h.
func linkMTU(h *netlink.Handle, dev string) int {
	l, err := h.LinkByName(dev)
	if err != nil {
		return 0
	}
	return l.Attrs().MTU
}

// converged waits until every node programs exactly the others: its API
// lists them and its kernel routes their subnets.
func converged(ctx context.Context, nodes []*node, subnets map[string]netip.Prefix, timeout time.Duration) error {
	for _, nd := range nodes {
		err := netsim.WaitFor(ctx, timeout, readyInterval, func() error {
			names, err := nd.peerNames(ctx)
			if err != nil {
				return err
			}
			routes, err := nd.vtepRoutes()
			if err != nil {
				return err
			}
			for _, o := range nodes {
				if o == nd {
					continue
				}
				if !slices.Contains(names, o.Name) || !routes[subnets[o.Name]] {
					return fmt.Errorf("%s does not program %s yet (peers %v)", nd.Name, o.Name, names)
				}
			}
			if len(names) != len(nodes)-1 {
				return fmt.Errorf("%s has %d peers, want %d: %v", nd.Name, len(names), len(nodes)-1, names)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// attach creates container name on nd and attaches it with cnitool to the
// CNI network netName; it returns the container and its IPv4 address.
func (e *env) attach(ctx context.Context, nd *node, name, netName string) (*netsim.Container, string, error) {
	c, err := nd.AddContainer(name)
	if err != nil {
		return nil, "", err
	}
	a, err := nd.CNI.Add(ctx, nd.Namespace, netName, c.Path)
	if err == nil && a.IP4 == "" {
		err = fmt.Errorf("cnitool add %s on %s: no IPv4 address", netName, nd.Name)
	}
	return c, a.IP4, err
}

// writeConf writes a CNI config list into the node's NETCONFPATH.
func (nd *node) writeConf(file, body string) error {
	if err := os.MkdirAll(nd.CNI.ConfDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(nd.CNI.ConfDir, file), []byte(body), 0o644)
}
