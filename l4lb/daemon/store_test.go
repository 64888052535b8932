package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/etcdtest"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/vipaddr"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Bounds of the store tests.
const (
	waitBound = 10 * time.Second
	waitEvery = 20 * time.Millisecond
)

// eventually retries fn every waitEvery until it succeeds or waitBound passes.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(waitEvery)
	}
}

// aliveLease writes node's liveness key under a new lease, as overlayd does.
func aliveLease(t *testing.T, s *cluster.Store, node string) clientv3.LeaseID {
	t.Helper()
	ctx := context.Background()
	g, err := s.Client.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Put(ctx, cluster.AlivePrefix+node, `{"node":"`+node+`"}`, clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	return g.ID
}

// startDaemon runs a daemon on s with a fake kernel until the test ends.
func startDaemon(t *testing.T, opts Options) *Daemon {
	t.Helper()
	opts.Kernel = dataplane.NewFake()
	opts.Log = quiet
	if opts.SyncInterval == 0 {
		opts.SyncInterval = 200 * time.Millisecond
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitBound):
			t.Error("daemon did not stop")
		}
	})
	return d
}

func getPrefix(t *testing.T, s *cluster.Store, prefix string) map[string]int64 {
	t.Helper()
	resp, err := s.Client.Get(context.Background(), prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Lease
	}
	return out
}

// vipLine renders one VIP of d for comparisons: proto port name -> backends.
func vipLines(d *Daemon) string {
	var b strings.Builder
	for _, v := range d.Details().VIPs {
		fmt.Fprintf(&b, "%s %d %s ->", v.Protocol, v.Port, v.Name)
		for _, be := range v.Backends {
			fmt.Fprintf(&b, " %s:%d", be.IP, be.Port)
			if !be.Active {
				b.WriteString("(down)")
			}
			if be.Draining {
				b.WriteString("(draining)")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestDaemonMesosAgent: a daemon with a Mesos agent publishes the agent's
// backends under the node's liveness lease; a second daemon without an
// agent programs them too; the backends survive an agent outage, drain
// when the task is killed, and go with the node's lease.
func TestDaemonMesosAgent(t *testing.T) {
	s := etcdtest.Store(t)
	lease := aliveLease(t, s, "a1")
	aliveLease(t, s, "a2")
	agent := newFakeAgent(t, "tcp-and-udp.json")
	d1 := startDaemon(t, Options{Store: s, Node: "a1", Mesos: AgentOptions{Agent: agent.URL, Poll: 20 * time.Millisecond}})
	d2 := startDaemon(t, Options{Store: s, Node: "a2"})

	const app = "app.marathon.l4lb.thisdcos.directory"
	want := "tcp 80 " + app + " -> 172.17.0.3:6416\nudp 80 " + app + " -> 172.17.0.3:6416\n"
	for _, d := range []*Daemon{d1, d2} {
		eventually(t, d.opts.Node+" programs the agent's VIPs", func() error {
			if got := vipLines(d); got != want {
				return fmt.Errorf("got\n%swant\n%s", got, want)
			}
			return nil
		})
	}
	addr := d2.Details().VIPs[0].Address
	if code := programmedCode(d2, addr); code != http.StatusNoContent {
		t.Errorf("GET %s%s on a2: %d, want 204", l4lbapi.PathProgrammed, addr, code)
	}
	recs := getPrefix(t, s, cluster.MesosBackendsPrefix)
	if len(recs) != 1 {
		t.Fatalf("mesos records: %v, want one", recs)
	}
	for k, l := range recs {
		if !strings.HasPrefix(k, cluster.MesosBackendsPrefix+"a1/") || clientv3.LeaseID(l) != lease {
			t.Errorf("record %s lease %x: want under %sa1/ with the liveness lease %x", k, l, cluster.MesosBackendsPrefix, lease)
		}
	}

	// Agent outage: polls fail, the last state stays published.
	agent.fail(503)
	before := agent.calls.Load()
	eventually(t, "polls of the failing agent", func() error {
		if agent.calls.Load() < before+3 {
			return fmt.Errorf("%d polls", agent.calls.Load()-before)
		}
		return nil
	})
	if got := vipLines(d2); got != want || len(getPrefix(t, s, cluster.MesosBackendsPrefix)) != 1 {
		t.Errorf("after the agent outage: %v\n%s", getPrefix(t, s, cluster.MesosBackendsPrefix), got)
	}

	// TASK_KILLING: the backend drains everywhere.
	agent.set(t, "tcp-and-udp.json")
	agent.mu.Lock()
	agent.body = []byte(strings.ReplaceAll(string(agent.body), `"TASK_RUNNING"`, `"TASK_KILLING"`))
	agent.mu.Unlock()
	drained := "tcp 80 " + app + " -> 172.17.0.3:6416(draining)\nudp 80 " + app + " -> 172.17.0.3:6416(draining)\n"
	eventually(t, "a2 drains the killed task", func() error {
		if got := vipLines(d2); got != drained {
			return fmt.Errorf("got\n%swant\n%s", got, drained)
		}
		return nil
	})
	metrics := scrape(t, d2)
	for _, line := range []string{`dcnet_l4lb_backends{state="draining"} 2`, `dcnet_l4lb_vips{family="ip"} 2`} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("metrics of a2 lack %q:\n%s", line, grepLines(metrics, "dcnet_l4lb_"))
		}
	}
	if m := scrape(t, d1); !strings.Contains(m, `dcnet_l4lb_mesos_polls_total{result="error"}`) {
		t.Errorf("metrics of a1 lack failed polls:\n%s", grepLines(m, "dcnet_l4lb_mesos"))
	}

	// The node goes: its records go with its lease. Every backend of the
	// VIPs was on it, so the VIPs stay as they were (fail open, held for
	// Options.FailOpenHold) rather than vanishing everywhere.
	held := vipLines(d2)
	if _, err := s.Client.Revoke(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dead node's records to go", func() error {
		if n := len(getPrefix(t, s, cluster.MesosBackendsPrefix)); n != 0 {
			return fmt.Errorf("%d mesos records left", n)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // a sync after the change
	if got := vipLines(d2); got != held {
		t.Errorf("a2 after the node's lease went: got\n%swant the held VIPs\n%s", got, held)
	}
	if code := programmedCode(d2, addr); code != http.StatusNoContent {
		t.Errorf("GET %s%s on a2 with the VIP held: %d, want 204", l4lbapi.PathProgrammed, addr, code)
	}
}

func programmedCode(d *Daemon, ip string) int {
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", l4lbapi.PathProgrammed+ip, nil))
	return rec.Code
}

func scrape(t *testing.T, d *Daemon) string {
	t.Helper()
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", l4lbapi.PathMetrics, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d", l4lbapi.PathMetrics, rec.Code)
	}
	return rec.Body.String()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDaemonReleasesUnusedVIP: a named VIP whose last backend left is
// released after the grace period (addresses and name record), and a new
// backend allocates it again.
func TestDaemonReleasesUnusedVIP(t *testing.T) {
	s := etcdtest.Store(t)
	lease := aliveLease(t, s, "a1")
	d := startDaemon(t, Options{Store: s, Node: "a1", ReleaseGrace: 300 * time.Millisecond})
	startDaemon(t, Options{Store: s, Node: "a2", ReleaseGrace: 300 * time.Millisecond})
	e := ep("a1", "c1", map[string]string{"VIP_0": "/web:80"}, "9.0.1.2/24", "fd01:b::1:2/80")
	b, _ := json.Marshal(e)
	key := cluster.EndpointsPrefix + "a1/dcos/c1/eth0"
	ctx := context.Background()
	if _, err := s.Client.Put(ctx, key, string(b), clientv3.WithLease(lease)); err != nil {
		t.Fatal(err)
	}
	// The addresses are dcos-net's for the name.
	a4, a6 := vipaddr.Default4.Start(vipaddr.Term(webName)), vipaddr.Default6.Start(vipaddr.Term(webName))
	wantKeys := []string{cluster.VIPNamesPrefix + webName, cluster.VIPAddrPrefix + a4.String(), cluster.VIPAddrPrefix + a6.String(),
		cluster.VIPNamePrefix + "ip/" + webName, cluster.VIPNamePrefix + "ip6/" + webName}
	hasKeys := func(want bool) error {
		got := getPrefix(t, s, cluster.VIPAndNamesPrefix)
		for _, k := range wantKeys {
			if _, ok := got[k]; ok != want {
				return fmt.Errorf("key %s present %t, want %t: %v", k, ok, want, got)
			}
		}
		if !want && len(got) > 0 {
			return fmt.Errorf("keys left: %v", got)
		}
		return nil
	}
	eventually(t, "allocation and name", func() error { return hasKeys(true) })
	// Stays while in use, well past the grace period.
	time.Sleep(time.Second)
	if err := hasKeys(true); err != nil {
		t.Fatalf("released while in use: %v", err)
	}
	if _, err := s.Client.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, "release", func() error { return hasKeys(false) })
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("released %v after the last backend left, before the grace period", took)
	}
	if m := scrape(t, d); !strings.Contains(m, "dcnet_l4lb_vip_releases_total") {
		t.Errorf("no release metric")
	}
	// Back again: allocated and named anew.
	if _, err := s.Client.Put(ctx, key, string(b), clientv3.WithLease(lease)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "allocation after release", func() error { return hasKeys(true) })
}

// TestReleaseNameGuards: a name in use is not released; two releases of
// one name delete once.
func TestReleaseNameGuards(t *testing.T) {
	s := etcdtest.Store(t)
	ctx := context.Background()
	used := map[netip.Addr]bool{}
	for _, k := range []AllocKey{{dataplane.IPv4, webName}, {dataplane.IPv6, webName}} {
		if _, err := allocate(ctx, s.Client, k, used); err != nil {
			t.Fatal(err)
		}
	}
	if errs := putNames(ctx, s.Client, []cluster.VIPName{{Name: webName, Addrs: []string{"11.0.0.1"}}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	e, _ := json.Marshal(ep("a1", "c1", map[string]string{"VIP_0": "/web:80"}, "9.0.1.2/24"))
	if _, err := s.Client.Put(ctx, cluster.EndpointsPrefix+"a1/dcos/c1/eth0", string(e)); err != nil {
		t.Fatal(err)
	}
	if ok, err := releaseName(ctx, s.Client, webName); ok || err != nil {
		t.Fatalf("release of a name in use: %t %v", ok, err)
	}
	if n := len(getPrefix(t, s, cluster.VIPAndNamesPrefix)); n != 5 {
		t.Fatalf("%d keys after a refused release, want 5", n)
	}
	if _, err := s.Client.Delete(ctx, cluster.EndpointsPrefix, clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	results := make(chan bool, 2)
	for range 2 {
		go func() {
			ok, err := releaseName(ctx, s.Client, webName)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		}()
	}
	if a, b := <-results, <-results; a == b {
		t.Errorf("two concurrent releases: %t and %t, want exactly one success", a, b)
	}
	if got := getPrefix(t, s, cluster.VIPAndNamesPrefix); len(got) != 0 {
		t.Errorf("keys left after release: %v", got)
	}
}

func TestReleaserDue(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newReleaser(time.Minute)
	r.now = func() time.Time { return now }
	known := map[string]bool{"a": true, "b": true}
	if got := r.due(known, map[string]bool{"a": true}); len(got) != 0 {
		t.Errorf("first sight: %v", got)
	}
	now = now.Add(59 * time.Second)
	if got := r.due(known, map[string]bool{"a": true}); len(got) != 0 {
		t.Errorf("before the grace period: %v", got)
	}
	now = now.Add(time.Second)
	if got := r.due(known, map[string]bool{"a": true}); len(got) != 1 || got[0] != "b" {
		t.Errorf("after the grace period: %v, want [b]", got)
	}
	// b back in use, a not: b's clock restarts, a's starts.
	r.due(known, map[string]bool{"b": true})
	now = now.Add(30 * time.Second)
	if got := r.due(known, nil); len(got) != 0 {
		t.Errorf("30 s later: %v, want none", got)
	}
	now = now.Add(30 * time.Second)
	if got := r.due(known, nil); len(got) != 1 || got[0] != "a" {
		t.Errorf("b's clock must restart when it is used again: %v, want [a]", got)
	}
}

// TestAllocateAll: names are claimed in batches; a batch that meets a name
// or an address another node claimed first falls back to one claim per
// name: the name keeps the winner's address, no address is handed out
// twice.
func TestAllocateAll(t *testing.T) {
	s := etcdtest.Store(t)
	ctx := context.Background()
	// Another node was faster for one name (this node's cache has not
	// seen it yet) and holds another address (which the cache has seen).
	other := map[netip.Addr]bool{}
	won, err := allocate(ctx, s.Client, AllocKey{dataplane.IPv4, "n040"}, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := allocate(ctx, s.Client, AllocKey{dataplane.IPv4, "someone-else"}, other); err != nil {
		t.Fatal(err)
	}
	var keys []AllocKey
	for i := range 100 {
		keys = append(keys, AllocKey{dataplane.IPv4, fmt.Sprintf("n%03d", i)})
		if i%10 == 0 {
			keys = append(keys, AllocKey{dataplane.IPv6, fmt.Sprintf("n%03d", i)})
		}
	}
	rev := func() int64 {
		r, err := s.Client.Get(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	before := rev()
	got, errs := allocateAll(ctx, s.Client, keys, map[netip.Addr]bool{mustAddr(t, s, "someone-else"): true})
	if len(errs) > 0 || len(got) != len(keys) {
		t.Fatalf("allocated %d of %d, errors %v", len(got), len(keys), errs)
	}
	// One revision per committed transaction: 4 batches (the first learns
	// that n040 and its address are taken and goes again without n040),
	// against 109 one by one.
	if writes := rev() - before; writes > 4 {
		t.Errorf("%d transactions for %d names, want 4 batches", writes, len(keys))
	} else {
		t.Logf("%d transactions for %d names", writes, len(keys))
	}
	if a := got[AllocKey{dataplane.IPv4, "n040"}]; a != won {
		t.Errorf("n040 = %s, want %s, the address the other node claimed", a, won)
	}
	owner := map[netip.Addr]AllocKey{}
	for k, a := range got {
		if o, dup := owner[a]; dup {
			t.Errorf("%s handed to %s and %s", a, o, k)
		}
		owner[a] = k
	}
	// etcd agrees: every name key holds the address, every address key the name.
	resp, err := s.Client.Get(ctx, cluster.VIPAndNamesPrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var kvs []cluster.KV
	for _, kv := range resp.Kvs {
		kvs = append(kvs, cluster.KV{Key: string(kv.Key), Value: kv.Value})
	}
	stored, used := parseAllocs(kvs)
	for k, a := range got {
		if stored[k] != a {
			t.Errorf("%s: stored %s, allocated %s", k, stored[k], a)
		}
	}
	if len(used) != len(keys)+1 { // plus someone-else's
		t.Errorf("%d addresses claimed in etcd, want %d", len(used), len(keys)+1)
	}
}

// mustAddr is the address etcd holds for the IPv4 name.
func mustAddr(t *testing.T, s *cluster.Store, name string) netip.Addr {
	t.Helper()
	r, err := s.Client.Get(context.Background(), cluster.VIPNamePrefix+AllocKey{dataplane.IPv4, name}.String())
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("name %s: %v", name, err)
	}
	return netip.MustParseAddr(string(r.Kvs[0].Value))
}

// TestAllocateAllEtcdDown: with etcd gone every name gets the error of
// the first failed transaction at once, instead of one claim per name
// each waiting out its timeout (40 names: minutes); names likewise.
func TestAllocateAllEtcdDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops an embedded etcd")
	}
	s, stop := etcdtest.StoreStoppable(t)
	stop()
	var keys []AllocKey
	var recs []cluster.VIPName
	for i := range 40 {
		keys = append(keys, AllocKey{dataplane.IPv4, fmt.Sprintf("d%02d", i)})
		recs = append(recs, cluster.VIPName{Name: fmt.Sprintf("d%02d", i), Addrs: []string{"11.0.0.1"}})
	}
	start := time.Now()
	got, errs := allocateAll(context.Background(), s.Client, keys, map[netip.Addr]bool{})
	if len(got) != 0 || len(errs) != len(keys) {
		t.Fatalf("etcd down: %d allocated, %d errors; want 0 and %d", len(got), len(errs), len(keys))
	}
	if perr := putNames(context.Background(), s.Client, recs); len(perr) != len(recs) {
		t.Fatalf("etcd down: %d name errors, want %d", len(perr), len(recs))
	}
	if took := time.Since(start); took > 3*storeTimeout {
		t.Errorf("etcd down: %v for 40 names and 40 records, want about two store timeouts (%v each), not one per name", took, storeTimeout)
	}
}

// TestAllocateDerived: a name gets dcos-net's address for it; when that
// address is taken (known to the caller, or claimed in etcd by a name the
// caller has not seen) it gets the next free one; a name allocated by an
// earlier version (sequentially from 11.0.0.1) keeps its address.
func TestAllocateDerived(t *testing.T) {
	s := etcdtest.Store(t)
	ctx := context.Background()
	const fooBar = "foo.bar.l4lb.thisdcos.directory"
	start := vipaddr.Default4.Start("foo.bar")
	got, err := allocate(ctx, s.Client, AllocKey{dataplane.IPv4, fooBar}, map[netip.Addr]bool{})
	if err != nil || got != start {
		t.Fatalf("foo.bar = %s (%v), want %s", got, err, start)
	}
	// Taken in the caller's view: the next address.
	const bazQux = "baz.qux.l4lb.thisdcos.directory"
	bq := vipaddr.Default4.Start("baz.qux")
	got, err = allocate(ctx, s.Client, AllocKey{dataplane.IPv4, bazQux}, map[netip.Addr]bool{bq: true})
	if err != nil || got != vipaddr.Default4.Next(bq) {
		t.Fatalf("baz.qux with %s taken = %s (%v), want %s", bq, got, err, vipaddr.Default4.Next(bq))
	}
	// Taken in etcd only: the claim fails, learns, and takes the next.
	const quux = "quux.marathon.l4lb.thisdcos.directory"
	q6 := vipaddr.Default6.Start("quux.marathon")
	if _, err := s.Client.Put(ctx, cluster.VIPAddrPrefix+q6.String(), "ip6/someone-else"); err != nil {
		t.Fatal(err)
	}
	got, err = allocate(ctx, s.Client, AllocKey{dataplane.IPv6, quux}, map[netip.Addr]bool{})
	if err != nil || got != vipaddr.Default6.Next(q6) {
		t.Fatalf("quux with %s claimed in etcd = %s (%v), want %s", q6, got, err, vipaddr.Default6.Next(q6))
	}
	// Migration: an existing allocation stays.
	old := AllocKey{dataplane.IPv4, webName}
	if _, err := s.Client.Put(ctx, cluster.VIPNamePrefix+old.String(), "11.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Put(ctx, cluster.VIPAddrPrefix+"11.0.0.1", old.String()); err != nil {
		t.Fatal(err)
	}
	all, errs := allocateAll(ctx, s.Client, []AllocKey{old, {dataplane.IPv4, "new.marathon.l4lb.thisdcos.directory"}}, map[netip.Addr]bool{})
	if len(errs) > 0 || all[old] != netip.MustParseAddr("11.0.0.1") {
		t.Fatalf("existing allocation: %v (%v), want 11.0.0.1", all, errs)
	}
	if a := all[AllocKey{dataplane.IPv4, "new.marathon.l4lb.thisdcos.directory"}]; a != vipaddr.Default4.Start("new.marathon") {
		t.Errorf("new name in the same batch = %s, want %s", a, vipaddr.Default4.Start("new.marathon"))
	}
}

// TestDaemonPublishesApplied: after programming an endpoint record's
// change the daemon's applied key passes that change's revision (a put,
// then a delete), and it goes when the daemon stops.
func TestDaemonPublishesApplied(t *testing.T) {
	s := etcdtest.Store(t)
	lease := aliveLease(t, s, "a1")
	ctx := context.Background()
	d, err := New(Options{Store: s, Kernel: dataplane.NewFake(), Node: "a1", SyncInterval: time.Second, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(dctx) }()
	defer func() {
		stop()
		<-done
	}()
	appliedRev := func() (int64, bool) {
		r, err := s.Client.Get(ctx, cluster.L4LBAppliedKey("a1"))
		if err != nil || len(r.Kvs) == 0 {
			return 0, false
		}
		var a cluster.L4LBApplied
		json.Unmarshal(r.Kvs[0].Value, &a)
		return a.Revision, r.Kvs[0].Lease != 0 && a.Node == "a1"
	}
	b, _ := json.Marshal(ep("a1", "c1", map[string]string{"VIP_0": "10.200.0.80:80"}, "9.0.1.2/24"))
	key := cluster.EndpointKey("a1", "dcos", "c1", "eth0")
	put, err := s.Client.Put(ctx, key, string(b), clientv3.WithLease(lease))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "applied after the put", func() error {
		if rev, ok := appliedRev(); !ok || rev < put.Header.Revision {
			return fmt.Errorf("applied %d (%t), want >= %d", rev, ok, put.Header.Revision)
		}
		return nil
	})
	del, err := s.Client.Delete(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "applied after the delete", func() error {
		if rev, _ := appliedRev(); rev < del.Header.Revision {
			return fmt.Errorf("applied %d, want >= %d", rev, del.Header.Revision)
		}
		return nil
	})
	stop()
	<-done
	done <- nil
	if _, ok := appliedRev(); ok {
		t.Error("the applied key outlived the daemon")
	}
}
