package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vip"
)

// otherVIPs are the numbers of other VIPs installed beside the one under
// test; the last one is the kube-proxy peer's service count too.
var otherVIPs = []int{0, 1000, 10000}

// otherVIP is the address of the i-th other VIP, 11.1.x.y (i < 65536).
func otherVIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 1, byte(i >> 8), byte(i)}) }

// otherBackends are the i-th other VIP's backends, 9.<100+j>.x.y:8080:
// installed, never dialled.
func otherBackends(i int) []netip.AddrPort {
	out := make([]netip.AddrPort, numBackend)
	for j := range out {
		out[j] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{9, byte(100 + j), byte(i >> 8), byte(i)}), 8080)
	}
	return out
}

// services is the VIP under test with backends plus n other VIPs of
// numBackend backends each. When moved >= 0, other VIP number moved has its
// last backend replaced by one that sorts last too, so exactly one slot
// changes (a backend change, for the update phase).
func services(n int, backends []netip.AddrPort, moved int, flip bool) []dataplane.Service {
	out := make([]dataplane.Service, 0, n+1)
	out = append(out, service(netip.MustParseAddr(vipAddr), backends))
	for i := range n {
		bs := otherBackends(i)
		if i == moved && flip {
			bs[len(bs)-1] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{9, 200, byte(i >> 8), byte(i)}), 8080)
		}
		out = append(out, service(otherVIP(i), bs))
	}
	return out
}

func service(addr netip.Addr, backends []netip.AddrPort) dataplane.Service {
	s := dataplane.Service{Key: vip.Key{Protocol: vip.ProtoTCP, IP: addr, Port: vipPort}}
	for _, b := range backends {
		s.Backends = append(s.Backends, vip.Backend{IP: b.Addr(), Port: b.Port(), Healthy: true})
	}
	return s
}

func plan(n int, backends []netip.AddrPort) (dataplane.Plan, error) {
	p, errs := dataplane.Build(services(n, backends, -1, false))
	if len(errs) > 0 {
		return p, fmt.Errorf("plan %d VIPs: %v", n, errs)
	}
	return p, nil
}

// tcase is one kind of traffic sample.
type tcase struct {
	Key     string // stable id, for ratios
	Label   string
	Side    string // "dcnet" or "kube-proxy"
	VIPs    int    // other VIPs (dcnet) or services (kube-proxy)
	Path    string // "VIP" or "direct"
	Mode    string
	Workers int
}

// trafficResult holds every sample of every case, by round (round 0 is
// the warm-up and is not kept).
type trafficResult struct {
	Cases   []tcase
	Samples map[string][]loadResult
	Errors  map[string]int
}

var modeNames = map[string]string{modeCPR: "conn per request", modeKeepAlive: "keep-alive", modePaired: "keep-alive paired"}

func clients(n int) string {
	if n == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", n)
}

func (o options) cases() [][]tcase {
	var groups [][]tcase
	pair := func(side string, n int, mode string, workers int) []tcase {
		var out []tcase
		for _, path := range []string{"direct", "VIP"} {
			key := fmt.Sprintf("%s/%d/%s/%s/%d", side, n, path, mode, workers)
			label := fmt.Sprintf("%s %s, %s, %s, %d other %s", side, path, modeNames[mode], clients(workers), n,
				map[bool]string{true: "VIPs", false: "services"}[side == "dcnet"])
			out = append(out, tcase{Key: key, Label: label, Side: side, VIPs: n, Path: path, Mode: mode, Workers: workers})
		}
		return out
	}
	for _, n := range otherVIPs {
		g := pair("dcnet", n, modeCPR, 1)
		if n == otherVIPs[len(otherVIPs)-1] {
			g = append(g, pair("dcnet", n, modeCPR, o.Saturation)...)
			g = append(g, pair("dcnet", n, modeKeepAlive, 1)...)
			g = append(g, pair("dcnet", n, modePaired, 1)...)
		}
		groups = append(groups, g)
	}
	kp := otherVIPs[len(otherVIPs)-1]
	groups = append(groups, append(pair("kube-proxy", kp, modeCPR, 1), pair("kube-proxy", kp, modeCPR, o.Saturation)...))
	return groups
}

// runTraffic runs rounds+1 interleaved rounds (the first discarded): in
// each, every group in turn (the dcnet ones after re-programming their VIP
// count with the Syncer), the group order and the direct/VIP order
// alternating between rounds.
func (e *env) runTraffic(ctx context.Context, o options, progress func(string)) (*trafficResult, error) {
	groups := o.cases()
	res := &trafficResult{Samples: map[string][]loadResult{}, Errors: map[string]int{}}
	for _, g := range groups {
		res.Cases = append(res.Cases, g...)
	}
	plans := map[int]dataplane.Plan{}
	for _, n := range otherVIPs {
		p, err := plan(n, e.dcnet.backends)
		if err != nil {
			return nil, err
		}
		plans[n] = p
	}
	for round := 0; round <= o.Rounds; round++ {
		order := slices.Clone(groups)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, g := range order {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if g[0].Side == "dcnet" {
				if _, err := e.syncer.Apply(plans[g[0].VIPs]); err != nil {
					return nil, fmt.Errorf("program %d VIPs: %w", g[0].VIPs, err)
				}
			}
			cs := slices.Clone(g)
			if round%2 == 1 {
				slices.Reverse(cs)
			}
			for _, c := range cs {
				if c.Mode == modePaired && c.Path == "VIP" {
					continue // measured with its direct twin
				}
				r, err := e.sample(c, o.SampleMillis)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.Label, err)
				}
				if round == 0 {
					continue
				}
				res.Samples[c.Key] = append(res.Samples[c.Key], r)
				res.Errors[c.Key] += r.Errors
				if r.Pair != nil {
					vk := strings.Replace(c.Key, "/direct/", "/VIP/", 1)
					res.Samples[vk] = append(res.Samples[vk], *r.Pair)
					res.Errors[vk] += r.Pair.Errors
				}
			}
		}
		progress(fmt.Sprintf("traffic round %d/%d done", round, o.Rounds))
	}
	return res, nil
}

func (e *env) sample(c tcase, millis int) (loadResult, error) {
	s := e.dcnet
	if c.Side != "dcnet" {
		s = e.kp
	}
	targets := []string{fmt.Sprintf("%s:%d", vipAddr, vipPort)}
	if c.Path == "direct" {
		// Direct takes the backends in turn, as the VIP spreads over them.
		targets = nil
		for _, b := range s.backends {
			targets = append(targets, b.String())
		}
	}
	// Keep-alive: one connection per backend and worker, used in turn,
	// on both paths (the VIP's round robin gives its first connections
	// one backend each), so both reach the same backends equally.
	req := loadRequest{Targets: targets, Workers: c.Workers, Millis: millis, Mode: c.Mode, Conns: len(s.backends)}
	if c.Mode == modePaired {
		// Direct and VIP in one run, request by request.
		req.PairTargets = []string{fmt.Sprintf("%s:%d", vipAddr, vipPort)}
	}
	r, err := s.load.load(req)
	if err != nil {
		return r, err
	}
	if r.Pair != nil && r.Pair.Requests == 0 {
		return r, fmt.Errorf("no request answered on the VIP path (%d errors, first: %s)", r.Pair.Errors, r.Pair.FirstErr)
	}
	if r.Requests == 0 {
		return r, fmt.Errorf("no request answered (%d errors, first: %s)", r.Errors, r.FirstErr)
	}
	return r, nil
}
