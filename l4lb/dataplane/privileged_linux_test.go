package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

const (
	// privConns new connections, one after the other from one client,
	// give each of three backends exactly 300: the lb-K rule picks slots
	// in round robin (numgen inc).
	privConns   = 900
	dialTimeout = 2 * time.Second
)

// lbRig is one node netns with a client and three backend containers, each
// on its own routed veth (9.0.<i>.2/24 behind the node's 9.0.<i>.1).
type lbRig struct {
	node     *netsim.Node
	client   *netsim.Container
	backends map[string]netip.AddrPort
	kernel   *NFTables
}

func newLBRig(t *testing.T) *lbRig {
	netsim.Privileged(t, "nft", "ip")
	f := netsim.NewFabric(t, "l4lbdp")
	node, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := node.Run(ctx, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatal(err)
	}
	r := &lbRig{node: node, backends: map[string]netip.AddrPort{}}
	for i, name := range []string{"cli", "b1", "b2", "b3"} {
		c, err := node.AddContainer(name)
		if err != nil {
			t.Fatal(err)
		}
		gw := fmt.Sprintf("9.0.%d.1", i+1)
		addr := fmt.Sprintf("9.0.%d.2", i+1)
		veth := "v" + name
		for _, argv := range [][]string{
			{"ip", "-n", node.NSName, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", c.NSName},
			{"ip", "-n", node.NSName, "addr", "add", gw + "/24", "dev", veth},
			{"ip", "-n", node.NSName, "link", "set", veth, "up"},
			{"ip", "-n", c.NSName, "addr", "add", addr + "/24", "dev", "eth0"},
			{"ip", "-n", c.NSName, "link", "set", "eth0", "up"},
			{"ip", "-n", c.NSName, "route", "add", "default", "via", gw},
		} {
			if _, err := f.Run(ctx, argv...); err != nil {
				t.Fatal(err)
			}
		}
		if name == "cli" {
			r.client = c
			continue
		}
		netsim.ServeName(t, c.Namespace, ":80", name)
		r.backends[name] = netip.MustParseAddrPort(addr + ":80")
	}
	h, err := node.NetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r.kernel = NewNFTables(nftables.WithNetNSFd(int(h.Fd())))
	return r
}

func (r *lbRig) sync(t *testing.T, p Plan) []Result {
	t.Helper()
	res, err := Sync(r.kernel, p)
	if err != nil {
		t.Fatalf("Sync: %v\n%s", err, r.ruleset())
	}
	return res
}

func (r *lbRig) ruleset() string {
	out, err := r.node.Run(context.Background(), "nft", "list", "ruleset")
	if err != nil {
		return err.Error()
	}
	return out
}

func (r *lbRig) plan(t *testing.T, names ...string) Plan {
	var bs []vip.Backend
	for _, n := range names {
		ap := r.backends[n]
		bs = append(bs, vip.Backend{IP: ap.Addr(), Port: ap.Port(), Healthy: true})
	}
	p, errs := Build([]Service{
		{Key: ipKey("tcp", "11.0.0.1", 80), Backends: bs},
		{Key: ipKey("tcp", "11.0.0.2", 80)},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	return p
}

func TestPrivilegedVIP(t *testing.T) {
	r := newLBRig(t)
	p := r.plan(t, "b1", "b2", "b3")
	r.sync(t, p)
	if res := r.sync(t, p); res[0].Changes+res[1].Changes != 0 || res[0].Rebuilt || res[1].Rebuilt {
		t.Errorf("second Sync of the same plan = %+v, want no change", res)
	}

	counts, err := netsim.DialCount(r.client.Namespace, privConns, "11.0.0.1:80", dialTimeout)
	if err != nil {
		t.Fatalf("dial VIP: %v\n%s", err, r.ruleset())
	}
	t.Logf("split over %d connections: %v", privConns, counts)
	even := privConns / 3
	for _, name := range []string{"b1", "b2", "b3"} {
		if c := counts[name]; c < even-1 || c > even+1 {
			t.Errorf("backend %s got %d of %d connections, want %d ±1 (round robin)", name, c, privConns, even)
		}
	}

	// One batch removes b2: new connections never reach it.
	r.sync(t, r.plan(t, "b1", "b3"))
	counts, err = netsim.DialCount(r.client.Namespace, privConns/2, "11.0.0.1:80", dialTimeout)
	if err != nil || counts["b2"] != 0 || counts["b1"] == 0 || counts["b3"] == 0 {
		t.Errorf("after removing b2: %v, %v\n%s", counts, err, r.ruleset())
	}

	// A VIP without backends is refused at once.
	start := time.Now()
	_, err = netsim.DialCount(r.client.Namespace, 1, "11.0.0.2:80", dialTimeout)
	if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > time.Second {
		t.Errorf("dial VIP without backends: %v after %v, want connection refused at once\n%s", err, time.Since(start), r.ruleset())
	}

	// Hand damage is repaired by one more Sync.
	if _, err := r.node.Run(context.Background(), "nft", "delete", "table", "ip", TableName); err != nil {
		t.Fatal(err)
	}
	if res := r.sync(t, p); !res[0].Rebuilt {
		t.Errorf("Sync after nft delete table = %+v, want rebuild", res)
	}
	counts, err = netsim.DialCount(r.client.Namespace, 30, "11.0.0.1:80", dialTimeout)
	if err != nil || len(counts) != 3 {
		t.Errorf("after repair: %v, %v\n%s", counts, err, r.ruleset())
	}
	if res := r.sync(t, p); res[0].Changes+res[1].Changes != 0 {
		t.Errorf("Sync after repair = %+v, want no change", res)
	}
	// The kernel prints the tables as Render does.
	p6, errs := Build([]Service{{Key: ipKey("tcp", "fd01:c::2", 80)}})
	if errs != nil {
		t.Fatal(errs)
	}
	p.Tables[IPv6] = p6.Tables[IPv6]
	r.sync(t, p)
	for _, f := range Families {
		var want strings.Builder
		renderTable(&want, f, p.Tables[f])
		got, err := r.node.Run(context.Background(), "nft", "list", "table", f.String(), TableName)
		if err != nil || strings.TrimSpace(got) != strings.TrimSpace(want.String()) {
			t.Errorf("nft list table %s %s (%v):\n%s\nRender:\n%s", f, TableName, err, got, want.String())
		}
	}
}

// TestPrivilegedRandomTableRebuilt: a table written by an earlier version,
// whose lb-K rules pick slots with numgen random, fails the skeleton check
// and is rebuilt once by Reconcile; then it is round robin and left alone.
func TestPrivilegedRandomTableRebuilt(t *testing.T) {
	r := newLBRig(t)
	p := r.plan(t, "b1", "b2", "b3")
	r.sync(t, p)
	// Turn lb-3 into the earlier version's rule.
	h, err := r.node.NetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(h.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	l := layouts[IPv4]
	tb := l.table()
	_, backends := l.sets(tb)
	ch := &nftables.Chain{Table: tb, Name: ChainName(3)}
	exprs := l.lbExprs(backends, 3)
	for _, e := range exprs {
		if ng, ok := e.(*expr.Numgen); ok {
			ng.Type = unix.NFT_NG_RANDOM
		}
	}
	c.FlushChain(ch)
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: exprs})
	if err := c.Flush(); err != nil {
		t.Fatalf("write the random-slot rule: %v", err)
	}
	if rs := r.ruleset(); !strings.Contains(rs, "numgen random mod 3") {
		t.Fatalf("old rule not written:\n%s", rs)
	}
	cur, err := r.kernel.Read(IPv4)
	if err != nil || !cur.Present || cur.Intact {
		t.Fatalf("read of the old table: present %t intact %t, %v; want present and not intact", cur.Present, cur.Intact, err)
	}
	s := NewSyncer(r.kernel, nil)
	if res, err := s.Reconcile(p); err != nil || !res[0].Rebuilt {
		t.Fatalf("Reconcile of the old table = %+v, %v; want rebuilt", res, err)
	}
	if rs := r.ruleset(); strings.Contains(rs, "numgen random") || !strings.Contains(rs, "numgen inc mod 3") {
		t.Errorf("after the rebuild:\n%s", rs)
	}
	if res, err := s.Reconcile(p); err != nil || res[0].Rebuilt || res[0].Changes != 0 {
		t.Errorf("second Reconcile = %+v, %v; want nothing to do", res, err)
	}
}
