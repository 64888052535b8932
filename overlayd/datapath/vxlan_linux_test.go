package datapath

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

// vxNode is one simulated node of TestPrivilegedVXLAN: its netns, its kernel
// and its container.
type vxNode struct {
	t    *testing.T
	n    *netsim.Node
	k    *Netlink
	log  *bytes.Buffer
	cont *netsim.Container
}

// vxPeer describes node i (from 1) of the simulated cluster.
func vxPeer(i int, underlay netip.Addr) (VTEP, Peer) {
	v, p := testNode(i)
	v.Local, p.Underlay = underlay, underlay
	return v, p
}

// want returns the node's full Want: its bridge, forwarding, VTEP and the
// given peers (the node itself may be among them).
func (x *vxNode) want(peers ...Peer) Want {
	i := x.n.Index
	w := Plan([]OverlayLease{{
		Bridge: "m-dcos", MTU: 1420,
		Range4: netip.MustParsePrefix("9.0.0.0/8"), Range6: netip.MustParsePrefix("fd01:b::/64"),
		NodeSubnet4: netip.MustParsePrefix(fmt.Sprintf("9.0.%d.0/24", i)),
		NodeSubnet6: netip.MustParsePrefix(fmt.Sprintf("fd01:b::%x:0:0:0/80", i)),
	}})
	v, _ := vxPeer(i, x.n.UnderlayIP)
	w.VTEP, w.Self, w.Peers = &v, x.n.Name, peers
	return w
}

// apply runs Apply inside the node's netns.
func (x *vxNode) apply(w Want) (int, error) {
	var n int
	var err error
	if e := x.n.Do(func(ns.NetNS) error { n, err = Apply(x.k, w); return nil }); e != nil {
		x.t.Fatal(e)
	}
	return n, err
}

// mustApply applies w and fails unless it made exactly changes writes
// (any number when changes < 0).
func (x *vxNode) mustApply(what string, w Want, changes int) {
	x.t.Helper()
	n, err := x.apply(w)
	if err != nil {
		x.t.Fatalf("%s: apply on %s: %v", what, x.n.Name, err)
	}
	if changes >= 0 && n != changes {
		x.t.Fatalf("%s: apply on %s made %d changes, want %d", what, x.n.Name, n, changes)
	}
}

// ip runs `ip` (or `bridge` when the first argument is "bridge") in the
// node's netns.
func (x *vxNode) ip(args ...string) string {
	x.t.Helper()
	argv := append([]string{"ip"}, args...)
	if args[0] == "bridge" {
		argv = args
	}
	out, err := x.n.Run(context.Background(), argv...)
	if err != nil {
		x.t.Fatal(err)
	}
	return out
}

func (x *vxNode) ifindex() int {
	x.t.Helper()
	var idx int
	if err := x.n.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("vtep1024")
		if err == nil {
			idx = l.Attrs().Index
		}
		return err
	}); err != nil {
		x.t.Fatal(err)
	}
	return idx
}

// kernelState reads the VTEP's peer state back from the kernel.
func (x *vxNode) kernelState() PeerState {
	x.t.Helper()
	var s PeerState
	if err := x.n.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("vtep1024")
		if err != nil {
			return err
		}
		s, err = ReadPeerState(l)
		return err
	}); err != nil {
		x.t.Fatal(err)
	}
	return s
}

// watchVTEP subscribes to link, address, neighbour (and FDB) and route
// events in the node's netns; stop waits briefly, unsubscribes and returns
// the events that concern vtep1024.
func (x *vxNode) watchVTEP() (stop func() []string) {
	x.t.Helper()
	idx := x.ifindex()
	done := make(chan struct{})
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	neighs := make(chan netlink.NeighUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	if err := x.n.Do(func(ns.NetNS) error {
		// The sockets belong to the netns they are opened in.
		return errors.Join(
			netlink.LinkSubscribe(links, done),
			netlink.AddrSubscribe(addrs, done),
			netlink.NeighSubscribe(neighs, done),
			netlink.RouteSubscribe(routes, done))
	}); err != nil {
		close(done)
		x.t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	var wg sync.WaitGroup
	collect := func(match bool, format string, args ...any) {
		if match {
			mu.Lock()
			events = append(events, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
	}
	wg.Add(4)
	go func() {
		defer wg.Done()
		for u := range links {
			collect(u.Attrs().Index == idx, "link %d %s", u.Header.Type, u.Attrs().Name)
		}
	}()
	go func() {
		defer wg.Done()
		for u := range addrs {
			collect(u.LinkIndex == idx, "addr new=%v %s", u.NewAddr, u.LinkAddress.String())
		}
	}()
	go func() {
		defer wg.Done()
		for u := range neighs {
			collect(u.LinkIndex == idx, "neigh %d family %d %s %s state %#x", u.Type, u.Family, u.IP, u.HardwareAddr, u.State)
		}
	}()
	go func() {
		defer wg.Done()
		for u := range routes {
			collect(u.LinkIndex == idx, "route %d %s", u.Type, u.Route.String())
		}
	}()
	return func() []string {
		time.Sleep(300 * time.Millisecond)
		close(done)
		waited := make(chan struct{})
		go func() { wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			x.t.Error("netlink subscriptions did not stop")
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(events)
	}
}

// ping pings dst from the node's container, retrying for a bounded time.
func (x *vxNode) ping(dst string) {
	x.t.Helper()
	err := netsim.WaitFor(context.Background(), 10*time.Second, 200*time.Millisecond, func() error {
		_, err := x.cont.Run(context.Background(), "ping", "-c", "1", "-W", "1", dst)
		return err
	})
	if err != nil {
		x.t.Fatalf("ping %s from %s: %v", dst, x.cont.NSName, err)
	}
}

// plugContainer puts the node's container behind m-dcos with .2 addresses.
func (x *vxNode) plugContainer() {
	i := x.n.Index
	c, err := x.n.AddContainer("c")
	if err != nil {
		x.t.Fatal(err)
	}
	x.cont = c
	x.ip("link", "add", "vc", "mtu", "1420", "type", "veth", "peer", "name", "eth0", "netns", c.NSName)
	x.ip("link", "set", "vc", "master", "m-dcos", "up")
	for _, argv := range [][]string{
		{"ip", "addr", "add", fmt.Sprintf("9.0.%d.2/24", i), "dev", "eth0"},
		{"ip", "addr", "add", fmt.Sprintf("fd01:b::%x:0:0:2/80", i), "dev", "eth0", "nodad"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "route", "add", "default", "via", fmt.Sprintf("9.0.%d.1", i)},
		{"ip", "-6", "route", "add", "default", "via", fmt.Sprintf("fd01:b::%x:0:0:1", i)},
	} {
		if out, err := c.Run(context.Background(), argv...); err != nil {
			x.t.Fatalf("%v: %s", err, out)
		}
	}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

func mustNotContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%s still has %q:\n%s", what, sub, s)
		}
	}
}

// TestPrivilegedVXLAN builds two nodes on a simulated underlay, each with a
// bridge and a container, programs the overlay on both and pings across it;
// then checks idempotence, adoption, repair of hand damage and departures.
func TestPrivilegedVXLAN(t *testing.T) {
	netsim.Privileged(t, "ping", "bridge")
	f := netsim.NewFabric(t, "dpvxlan")
	var xs []*vxNode
	var peers []Peer
	for _, name := range []string{"a", "b"} {
		n, err := f.AddNode(name)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		x := &vxNode{t: t, n: n, log: &log, k: &Netlink{Log: slog.New(slog.NewTextHandler(&log, nil))}}
		xs = append(xs, x)
		_, p := vxPeer(n.Index, n.UnderlayIP)
		p.Name = name
		peers = append(peers, p)
	}
	a, b := xs[0], xs[1]

	// Node b has a vtep1024 left by a DC/OS-style setup (random MAC, a
	// stale address, down): it is adopted, not recreated.
	b.ip("link", "add", "vtep1024", "type", "vxlan", "id", "1024", "dstport", "64000", "local", b.n.UnderlayIP.String(), "learning")
	b.ip("addr", "add", "44.128.0.9/20", "dev", "vtep1024")
	bIndex := b.ifindex()

	for _, x := range xs {
		x.mustApply("first apply", x.want(peers...), -1)
		x.plugContainer()
	}
	if got := b.ifindex(); got != bIndex {
		t.Errorf("b's existing vtep1024 was recreated: ifindex %d -> %d", bIndex, got)
	}
	link := b.ip("-d", "addr", "show", "vtep1024")
	mustContain(t, "b vtep1024", link, "link/ether 70:b3:d5:80:00:02", "vxlan id 1024", "local 198.18.0.2", "dstport 64000",
		"44.128.0.2/20", "fd01:a::2/64", "mtu 1450", "state UNKNOWN")
	mustNotContain(t, "b vtep1024", link, "44.128.0.9")

	a.ping("9.0.2.2")
	a.ping("fd01:b::2:0:0:2")
	b.ping("9.0.1.2")

	mustContain(t, "a neigh", a.ip("neigh", "show", "dev", "vtep1024"),
		"44.128.0.2 lladdr 70:b3:d5:80:00:02 PERMANENT", "fd01:a::2 lladdr 70:b3:d5:80:00:02 PERMANENT")
	mustContain(t, "a fdb", a.ip("bridge", "fdb", "show", "dev", "vtep1024"), "70:b3:d5:80:00:02 dst 198.18.0.2 self permanent")
	mustContain(t, "a routes", a.ip("route", "show", "dev", "vtep1024"), "9.0.2.0/24 via 44.128.0.2 onlink")
	mustContain(t, "a routes", a.ip("-6", "route", "show", "dev", "vtep1024"), "fd01:b:0:0:2::/80 via fd01:a::2 metric 1024 onlink")
	// The kernel reads back exactly as planned.
	for _, x := range xs {
		w := x.want(peers...)
		if diff := cmp.Diff(PlanPeers(w.VTEP, w.Self, w.Peers).Lines("vtep1024"), x.kernelState().Lines("vtep1024")); diff != "" {
			t.Errorf("%s: kernel state (-planned +read):\n%s", x.n.Name, diff)
		}
	}

	// A second apply, by a restarted daemon (a fresh Netlink), writes
	// nothing at all, and nothing of vtep1024 blinks.
	for _, x := range xs {
		x.k = &Netlink{Log: x.k.Log}
		stop := x.watchVTEP()
		x.mustApply("second apply", x.want(peers...), 0)
		if events := stop(); len(events) != 0 {
			t.Errorf("%s: second apply caused netlink events on vtep1024:\n%s", x.n.Name, strings.Join(events, "\n"))
		}
	}
	aIndex := a.ifindex()

	step(t, "hand damage is repaired", func() {
		a.ip("neigh", "del", "44.128.0.2", "dev", "vtep1024")
		a.ip("bridge", "fdb", "del", "70:b3:d5:80:00:02", "dev", "vtep1024", "dst", "198.18.0.2", "self")
		a.ip("route", "del", "9.0.2.0/24")
		mustNotContain(t, "a neigh", a.ip("neigh", "show", "dev", "vtep1024"), "44.128.0.2 ")
		stop := a.watchVTEP()
		a.mustApply("repair", a.want(peers...), 3)
		// The watcher sees writes (so its silence above means something).
		if events := stop(); len(events) < 3 {
			t.Errorf("repair: watcher saw %d events, want >= 3: %q", len(events), events)
		}
		a.ping("9.0.2.2")
		a.mustApply("after repair", a.want(peers...), 0)
	})

	step(t, "a learned fdb entry is made permanent", func() {
		a.ip("bridge", "fdb", "del", "70:b3:d5:80:00:02", "dev", "vtep1024", "dst", "198.18.0.2", "self")
		// b's traffic teaches a's vtep (learning on) where b's MAC lives.
		b.ping("9.0.1.2")
		fdb := a.ip("bridge", "fdb", "show", "dev", "vtep1024")
		mustContain(t, "a fdb", fdb, "70:b3:d5:80:00:02 dst 198.18.0.2 self")
		mustNotContain(t, "a fdb", fdb, "permanent")
		a.mustApply("learned", a.want(peers...), 1)
		mustContain(t, "a fdb", a.ip("bridge", "fdb", "show", "dev", "vtep1024"), "70:b3:d5:80:00:02 dst 198.18.0.2 self permanent")
	})

	step(t, "strays are removed", func() {
		a.ip("neigh", "add", "44.128.0.77", "lladdr", "70:b3:d5:80:00:4d", "dev", "vtep1024", "nud", "permanent")
		// (A unicast MAC has one destination: `fdb append` would not add one.)
		a.ip("bridge", "fdb", "add", "70:b3:d5:80:00:4d", "dev", "vtep1024", "dst", "198.18.0.77", "self", "permanent")
		a.ip("route", "add", "9.0.77.0/24", "via", "44.128.0.77", "dev", "vtep1024", "onlink")
		a.mustApply("strays", a.want(peers...), 3)
		mustNotContain(t, "a state", strings.Join(a.kernelState().Lines("vtep1024"), "\n"), "44.128.0.77", "70:b3:d5:80:00:4d", "9.0.77.0")
		mustContain(t, "a fdb", a.ip("bridge", "fdb", "show", "dev", "vtep1024"), "70:b3:d5:80:00:02 dst 198.18.0.2 self permanent")
	})

	step(t, "peer joins, moves and departs", func() {
		_, c := vxPeer(3, netip.MustParseAddr("198.18.0.3"))
		a.mustApply("join", a.want(append(peers, c)...), 5)
		mustContain(t, "a state", strings.Join(a.kernelState().Lines("vtep1024"), "\n"),
			"fdb 70:b3:d5:80:00:03 dst 198.18.0.3 dev vtep1024", "route 9.0.3.0/24 via 44.128.0.3 dev vtep1024 onlink")
		c.Underlay = netip.MustParseAddr("198.18.0.33")
		a.mustApply("move", a.want(append(peers, c)...), 1)
		mustContain(t, "a fdb", a.ip("bridge", "fdb", "show", "dev", "vtep1024"), "70:b3:d5:80:00:03 dst 198.18.0.33 self permanent")
		a.mustApply("depart", a.want(peers...), 5)
		mustNotContain(t, "a state", strings.Join(a.kernelState().Lines("vtep1024"), "\n"), "44.128.0.3 ", "70:b3:d5:80:00:03", "9.0.3.0", "fd01:a::3 ")
		a.ping("9.0.2.2")
	})

	if got := a.ifindex(); got != aIndex {
		t.Errorf("a's vtep1024 was recreated by repairs: ifindex %d -> %d", aIndex, got)
	}

	step(t, "deleted device is recreated", func() {
		a.ip("link", "del", "vtep1024")
		a.mustApply("recreate", a.want(peers...), -1)
		a.ping("9.0.2.2")
		a.ping("fd01:b::2:0:0:2")
		a.mustApply("after recreate", a.want(peers...), 0)
	})

	step(t, "device with another VNI is replaced", func() {
		a.ip("link", "del", "vtep1024")
		a.ip("link", "add", "vtep1024", "type", "vxlan", "id", "42", "dstport", "64000", "local", a.n.UnderlayIP.String())
		a.mustApply("replace", a.want(peers...), -1)
		mustContain(t, "a vtep1024", a.ip("-d", "link", "show", "vtep1024"), "vxlan id 1024")
		mustContain(t, "a log", a.log.String(), "recreating vtep", "vni 42, want 1024")
		a.ping("9.0.2.2")
		a.mustApply("after replace", a.want(peers...), 0)
	})

	step(t, "a failed write does not stop the others", func() {
		w := a.want(peers...)
		want := PlanPeers(w.VTEP, w.Self, w.Peers)
		a.ip("route", "del", "9.0.2.0/24")
		a.ip("neigh", "del", "44.128.0.2", "dev", "vtep1024")
		bad := want
		bad.Routes = append([]Route{{Dst: netip.MustParsePrefix("9.0.9.0/24"), Via: netip.MustParseAddr("fd01:a::9"), OnLink: true}}, want.Routes...)
		var n int
		var err error
		if e := a.n.Do(func(ns.NetNS) error { n, err = a.k.EnsurePeers(*w.VTEP, bad); return nil }); e != nil {
			t.Fatal(e)
		}
		if err == nil || !strings.Contains(err.Error(), "add route 9.0.9.0/24 via fd01:a::9 dev vtep1024 onlink: ") {
			t.Errorf("want an error naming the route, got %v", err)
		}
		if n != 2 {
			t.Errorf("%d writes, want the 2 good ones", n)
		}
		t.Logf("error: %v", err)
		a.ping("9.0.2.2")
		a.mustApply("after failure", w, 0)
	})

	step(t, "vxlan packets skip conntrack when NoTrack is set", func() {
		w := a.want(peers...)
		w.VTEP.NoTrack = true
		a.mustApply("notrack on", w, 1)
		raw := func() string {
			out, err := a.n.Run(context.Background(), "iptables", "-w", "-t", "raw", "-S")
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		mustContain(t, "a raw", raw(), "-N "+ChainNoTrack,
			"-A PREROUTING -m comment --comment \""+jumpComment+"\" -j "+ChainNoTrack,
			"-A OUTPUT -m comment --comment \""+jumpComment+"\" -j "+ChainNoTrack,
			"-A "+ChainNoTrack+" -p udp -m udp --dport 64000 -j CT --notrack")
		a.ping("9.0.2.2")
		// Both directions of the ping's tunnel packets hit the rule.
		counters, err := a.n.Run(context.Background(), "iptables", "-w", "-t", "raw", "-L", ChainNoTrack, "-v", "-x", "-n")
		if err != nil {
			t.Fatal(err)
		}
		var pkts int
		for _, l := range strings.Split(counters, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[2] == "CT" {
				fmt.Sscan(f[0], &pkts)
			}
		}
		if pkts < 2 {
			t.Errorf("NOTRACK rule matched %d packets after a ping over vtep1024, want >= 2:\n%s", pkts, counters)
		}
		a.mustApply("notrack again", w, 0)
		w.VTEP.NoTrack = false
		a.mustApply("notrack off", w, 1)
		mustNotContain(t, "a raw", raw(), ChainNoTrack)
		a.ping("9.0.2.2")
	})

	step(t, "link of another type is an error and is not programmed", func() {
		a.ip("link", "del", "vtep1024")
		a.ip("link", "add", "vtep1024", "type", "bridge")
		_, err := a.apply(a.want(peers...))
		if err == nil || !strings.Contains(err.Error(), "not a vxlan") {
			t.Errorf("want 'not a vxlan' error, got %v", err)
		}
		if out := a.ip("route", "show", "dev", "vtep1024") + a.ip("neigh", "show", "dev", "vtep1024"); out != "" {
			t.Errorf("peers programmed on a bridge named vtep1024:\n%s", out)
		}
	})
}

// step runs one stage of a sequential scenario, naming it in the log. (Not
// a subtest: the node helpers fail the scenario's own test.)
func step(t *testing.T, name string, fn func()) {
	t.Helper()
	t.Logf("step: %s", name)
	fn()
}
