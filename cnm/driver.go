package cnm

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dcnet/dcnet/overlayd/api"
)

// Overlay is what the driver needs of overlayd (api.Client implements it).
type Overlay interface {
	Networks(ctx context.Context) ([]api.Network, error)
	Allocate(ctx context.Context, req api.AllocateRequest) (api.AllocateResponse, error)
	Release(ctx context.Context, id api.AttachmentID) (bool, error)
	Update(ctx context.Context, req api.UpdateRequest) (api.Attachment, error)
	Attachments(ctx context.Context) ([]api.Attachment, error)
	Withdraw(ctx context.Context, id api.AttachmentID) (api.WithdrawResponse, error)
	Publish(ctx context.Context, id api.AttachmentID) (bool, error)
}

var _ Overlay = (*api.Client)(nil)

// Naming of attachments, veths and pools (see doc.go).
const (
	configPrefix  = "docker:" // Config of every attachment the driver makes: docker:<overlay>
	provPrefix    = "cnm-"    // ContainerID of an address not yet claimed by an endpoint
	attachIfName  = "docker"  // IfName of the driver's attachments
	hostVethPre   = "dcv"     // host end: dcv + 12 characters of the endpoint ID
	peerVethPre   = "dct"     // container end until dockerd renames it
	vethIDChars   = 12
	dstPrefix     = "eth"
	poolIDPrefix  = "dcnet:"
	addressSpace  = "dcnet"
	defaultSweep  = time.Minute
	pendingMaxAge = 2 * time.Minute // an unclaimed address older than this is released by the sweep
)

// Driver is the Docker network and IPAM driver. Its methods are the plugin
// calls; they are serialised by one mutex (each costs a few milliseconds).
type Driver struct {
	mu      sync.Mutex
	state   *State
	overlay Overlay
	kernel  Kernel
	ports   Ports // nil: `docker run -p` is refused
	log     *slog.Logger
	now     func() time.Time
}

// WithPorts makes the driver publish host ports through p.
func (d *Driver) WithPorts(p Ports) *Driver {
	d.ports = p
	return d
}

// New returns a driver over state, overlayd and the kernel.
func New(state *State, overlay Overlay, kernel Kernel, log *slog.Logger) *Driver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{state: state, overlay: overlay, kernel: kernel, log: log, now: time.Now}
}

// ConfigName is the Config of the attachments made for overlay: a name no
// CNI configuration can have (CNI names have no ':'), so CNI GC never
// touches Docker's addresses.
func ConfigName(overlay string) string { return configPrefix + overlay }

// overlayInfo returns the overlay's current description from overlayd.
func (d *Driver) overlayInfo(ctx context.Context, name string) (api.Network, error) {
	nets, err := d.overlay.Networks(ctx)
	if err != nil {
		return api.Network{}, fmt.Errorf("ask overlayd for overlay %s: %w", name, err)
	}
	var names []string
	for _, n := range nets {
		if n.Name == name {
			return n, nil
		}
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return api.Network{}, fmt.Errorf("overlay %q is not configured on this node (overlayd has %s)", name, strings.Join(names, ", "))
}

// overlayOf finds the overlay whose node subnet contains addr (CIDR or
// plain), for requests about networks the driver never saw.
func (d *Driver) overlayOf(ctx context.Context, addr string) (api.Network, error) {
	a, err := parseAddr(addr)
	if err != nil {
		return api.Network{}, err
	}
	nets, err := d.overlay.Networks(ctx)
	if err != nil {
		return api.Network{}, fmt.Errorf("ask overlayd which overlay holds %s: %w", addr, err)
	}
	for _, n := range nets {
		for _, s := range []string{n.NodeSubnet, n.NodeSubnet6} {
			if p, err := netip.ParsePrefix(s); err == nil && p.Contains(a) {
				return n, nil
			}
		}
	}
	return api.Network{}, fmt.Errorf("address %s is in no node subnet of this node's overlays", addr)
}

// parseAddr accepts "9.0.1.5/24" or "9.0.1.5".
func parseAddr(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q: want an IP address, optionally with /prefix", s)
	}
	return a, nil
}

// subnetOf returns the overlay's node subnet and gateway of one family.
func subnetOf(n api.Network, v6 bool) (subnet, gateway string) {
	if v6 {
		return n.NodeSubnet6, n.Gateway6
	}
	return n.NodeSubnet, n.Gateway
}

// withPrefix renders addr with the prefix length of subnet.
func withPrefix(addr, subnet string) string {
	a, err1 := parseAddr(addr)
	p, err2 := netip.ParsePrefix(subnet)
	if err1 != nil || err2 != nil {
		return addr
	}
	return netip.PrefixFrom(a, p.Bits()).String()
}

func vethNames(endpointID string) (host, peer string) {
	id := endpointID
	if len(id) > vethIDChars {
		id = id[:vethIDChars]
	}
	return hostVethPre + id, peerVethPre + id
}
