package cnm

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/overlayd/api"
)

// FakeOverlay is an in-memory overlayd for tests: it hands out addresses of
// its networks' node subnets in order and never reuses one.
type FakeOverlay struct {
	mu   sync.Mutex
	nets []api.Network
	atts map[api.AttachmentID]api.Attachment
	next map[string]netip.Addr // per node subnet: the last address handed out
}

var _ Overlay = (*FakeOverlay)(nil)

// NewFakeOverlay returns a fake with the given overlays.
func NewFakeOverlay(nets ...api.Network) *FakeOverlay {
	return &FakeOverlay{nets: nets, atts: map[api.AttachmentID]api.Attachment{}, next: map[string]netip.Addr{}}
}

// Networks implements Overlay.
func (f *FakeOverlay) Networks(context.Context) ([]api.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Network(nil), f.nets...), nil
}

// Allocate implements Overlay.
func (f *FakeOverlay) Allocate(_ context.Context, req api.AllocateRequest) (api.AllocateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n *api.Network
	for i := range f.nets {
		if f.nets[i].Name == req.Network {
			n = &f.nets[i]
		}
	}
	if n == nil {
		return api.AllocateResponse{}, &api.Error{Status: 404, Code: api.CodeInvalid, Msg: "unknown network " + req.Network}
	}
	if a, ok := f.atts[req.AttachmentID]; ok {
		a.Withdrawn = a.Withdrawn && req.Unpublished
		f.atts[req.AttachmentID] = a
		return api.AllocateResponse{Attachment: a, Network: *n}, nil
	}
	a := api.Attachment{AttachmentID: req.AttachmentID, Config: req.Config, Runtime: req.Runtime, Labels: req.Labels, Withdrawn: req.Unpublished}
	for _, pair := range [][2]string{{n.NodeSubnet, n.Gateway}, {n.NodeSubnet6, n.Gateway6}} {
		if pair[0] == "" {
			continue
		}
		p := netip.MustParsePrefix(pair[0])
		last, ok := f.next[pair[0]]
		if !ok {
			last = netip.MustParseAddr(pair[1])
		}
		addr := last.Next()
		f.next[pair[0]] = addr
		a.IPs = append(a.IPs, api.IPConfig{Address: netip.PrefixFrom(addr, p.Bits()).String(), Gateway: pair[1]})
	}
	f.atts[req.AttachmentID] = a
	return api.AllocateResponse{Attachment: a, Network: *n}, nil
}

// Release implements Overlay.
func (f *FakeOverlay) Release(_ context.Context, id api.AttachmentID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.atts[id]
	delete(f.atts, id)
	return ok, nil
}

// Withdraw implements Overlay.
func (f *FakeOverlay) Withdraw(_ context.Context, id api.AttachmentID) (api.WithdrawResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.atts[id]
	if ok {
		a.Withdrawn = true
		f.atts[id] = a
	}
	return api.WithdrawResponse{Withdrawn: ok}, nil
}

// Publish implements Overlay.
func (f *FakeOverlay) Publish(_ context.Context, id api.AttachmentID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.atts[id]
	if ok {
		a.Withdrawn = false
		f.atts[id] = a
	}
	return ok, nil
}

// Update implements Overlay.
func (f *FakeOverlay) Update(_ context.Context, req api.UpdateRequest) (api.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	to := req.AttachmentID
	if req.To != nil {
		to = *req.To
	}
	a, ok := f.atts[req.AttachmentID]
	if !ok {
		if a, ok = f.atts[to]; !ok {
			return api.Attachment{}, &api.Error{Status: 404, Code: api.CodeNotFound, Msg: "no attachment " + req.AttachmentID.String()}
		}
	}
	delete(f.atts, a.AttachmentID)
	a.AttachmentID, a.Labels, a.PortMappings = to, req.Labels, req.PortMappings
	f.atts[to] = a
	return a, nil
}

// Attachments implements Overlay.
func (f *FakeOverlay) Attachments(context.Context) ([]api.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]api.Attachment, 0, len(f.atts))
	for _, a := range f.atts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AttachmentID.String() < out[j].AttachmentID.String() })
	return out, nil
}

// String lists the attachments, one a line: "id ips labels".
func (f *FakeOverlay) String() string {
	atts, _ := f.Attachments(context.Background())
	var b strings.Builder
	for _, a := range atts {
		var ips []string
		for _, ip := range a.IPs {
			ips = append(ips, ip.Address)
		}
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var labels []string
		for _, k := range keys {
			labels = append(labels, k+"="+a.Labels[k])
		}
		w := ""
		if a.Withdrawn {
			w = " withdrawn"
		}
		fmt.Fprintf(&b, "%s %s %s%s\n", a.AttachmentID, strings.Join(ips, ","), strings.Join(labels, ","), w)
	}
	return b.String()
}

// FakePorts records Publish and Unpublish calls as text lines; Fail, when
// set, fails the next Publish.
type FakePorts struct {
	Lines []string
	Fail  error
}

var _ Ports = (*FakePorts)(nil)

// Publish implements Ports.
func (f *FakePorts) Publish(_ context.Context, id, netns string, addrs []netip.Addr, pms []api.PortMapping) error {
	if err := f.Fail; err != nil {
		f.Fail = nil
		return err
	}
	f.Lines = append(f.Lines, fmt.Sprintf("publish %.12s netns %s addrs %v ports %v", id, netns, addrs, pms))
	return nil
}

// Unpublish implements Ports.
func (f *FakePorts) Unpublish(_ context.Context, id string) error {
	f.Lines = append(f.Lines, fmt.Sprintf("unpublish %.12s", id))
	return nil
}
