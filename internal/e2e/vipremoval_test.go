package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Removal under load.
const (
	churnRemovals = 200
	churnDNSName  = "churn.marathon.l4lb.thisdcos.directory"
	// churnLive backends serve the VIP at any time.
	churnLive = 2
	// churnEvery is the pause between two connections of one client.
	churnEvery = 4 * time.Millisecond
)

// loadClient opens a new connection to a VIP every churnEvery from a
// container until stopped, counting answers and failures.
type loadClient struct {
	name     string
	ns       netsim.Namespace
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     []string
}

func (l *loadClient) run(ctx context.Context, addr string, wg *sync.WaitGroup) {
	defer wg.Done()
	for ctx.Err() == nil {
		t0 := time.Now()
		counts, err := netsim.DialCount(l.ns, 1, addr, l4lbDialMax)
		if err != nil || len(counts) != 1 {
			l.fail.Add(1)
			l.mu.Lock()
			if len(l.errs) < 10 {
				l.errs = append(l.errs, fmt.Sprintf("dialled at %s: %v %v", t0.Format("15:04:05.000"), err, counts))
			}
			l.mu.Unlock()
		} else {
			l.ok.Add(1)
		}
		time.Sleep(churnEvery)
	}
}

// TestPrivilegedVIPRemovalUnderLoad: a named VIP's backends on a1 are
// replaced 200 times (a new one added, the oldest removed with CNI DEL),
// while clients on a2 and a3 each open a new connection to the VIP every
// few milliseconds: not one connection fails. DEL withdraws the endpoint
// record and waits for every node's dcnet-l4lb to program that before the
// interface goes; ADD publishes the record only once the interface exists.
func TestPrivilegedVIPRemovalUnderLoad(t *testing.T) {
	netsim.RequireCommands(t, "curl", "nft")
	_, nodes, _, endpoints := agents(t, "evipdel", 3, dualConfig)
	for _, nd := range nodes {
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), bin("dcnet-l4lb"), "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s")
	}
	a1 := nodes[0]
	a1.writeConf("20-churn.conflist", fmt.Sprintf(`{"cniVersion":"1.1.0","name":"churn","plugins":[{"type":"dcnet","network":"dcos","socket":%q,
	  "args":{"labels":[{"key":"VIP_0","value":"/churn:80"}]}}]}`, a1.socket))
	type backend struct {
		c   *netsim.Container
		ip4 string
	}
	add := func(i int) backend {
		c := a1.container(fmt.Sprintf("churn%03d", i))
		netsim.ServeName(t, c.Namespace, ":80", c.Name)
		return backend{c: c, ip4: a1.cniAdd(c, "churn").ip4}
	}
	// programmed reports whether every client node lists exactly want as
	// the churn VIP's active IPv4 backends.
	programmed := func(want []string) error {
		for _, nd := range nodes[1:] {
			vs, err := vips(nd)
			if err != nil {
				return err
			}
			var have []string
			for _, v := range vs {
				if v.Name != churnDNSName || v.Protocol != "tcp" || net.ParseIP(v.Address).To4() == nil {
					continue
				}
				for _, b := range v.Backends {
					if b.Active && !b.Draining {
						have = append(have, b.IP)
					}
				}
			}
			slices.Sort(have)
			if !slices.Equal(have, want) {
				return fmt.Errorf("%s has %v, want %v", nd.Name, have, want)
			}
		}
		return nil
	}
	var live []backend
	for i := range churnLive {
		live = append(live, add(i))
	}
	ips := func() []string {
		var out []string
		for _, b := range live {
			out = append(out, b.ip4)
		}
		slices.Sort(out)
		return out
	}
	if err := netsim.WaitFor(context.Background(), 30*time.Second, 20*time.Millisecond, func() error { return programmed(ips()) }); err != nil {
		t.Fatal(err)
	}
	addr := waitWebVIPAddr(t, nodes[1], churnDNSName)
	var clients []*loadClient
	for _, nd := range nodes[1:] {
		c := attach(t, nd, "load")
		clients = append(clients, &loadClient{name: nd.Name, ns: c.Namespace})
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, l := range clients {
		wg.Add(1)
		go l.run(ctx, net.JoinHostPort(addr, "80"), &wg)
	}
	var dels []time.Duration
	start := time.Now()
	var timeline []string
	note := func(format string, args ...any) {
		timeline = append(timeline, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	}
	defer func() {
		if t.Failed() {
			t.Logf("timeline:\n%s", strings.Join(timeline, "\n"))
		}
	}()
	for i := range churnRemovals {
		live = append(live, add(churnLive+i))
		note("added %s %s", live[len(live)-1].c.Name, live[len(live)-1].ip4)
		if err := netsim.WaitFor(context.Background(), 20*time.Second, 10*time.Millisecond, func() error { return programmed(ips()) }); err != nil {
			stop()
			wg.Wait()
			t.Fatalf("removal %d: %v", i, err)
		}
		old := live[0]
		live = live[1:]
		note("programmed; deleting %s %s", old.c.Name, old.ip4)
		t0 := time.Now()
		if out, err := a1.cnitool("del", "churn", old.c.Path); err != nil {
			stop()
			wg.Wait()
			t.Fatalf("removal %d: cnitool del: %v\n%s", i, err, out)
		}
		dels = append(dels, time.Since(t0))
		note("deleted %s", old.c.Name)
		if err := old.c.Delete(); err != nil {
			t.Error(err)
		}
	}
	took := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	var total, failed int64
	for _, l := range clients {
		total += l.ok.Load() + l.fail.Load()
		failed += l.fail.Load()
		t.Logf("client on %s: %d connections, %d failed %v", l.name, l.ok.Load()+l.fail.Load(), l.fail.Load(), l.errs)
	}
	slices.Sort(dels)
	t.Logf("%d removals in %v under %d connections from 2 nodes: %d failed; CNI DEL median %v, p99 %v, max %v", churnRemovals,
		took.Round(time.Millisecond), total, failed, benchkit.Median(dels).Round(time.Millisecond),
		benchkit.NearestRank(dels, 99).Round(time.Millisecond), dels[len(dels)-1].Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d of %d connections failed during %d backend removals", failed, total, churnRemovals)
	}
	if total < churnRemovals {
		t.Errorf("only %d connections during %d removals: the load did not run", total, churnRemovals)
	}
}

// waitWebVIPAddr returns nd's IPv4 address of the named VIP name.
func waitWebVIPAddr(t *testing.T, nd *node, name string) string {
	t.Helper()
	var addr string
	err := netsim.WaitFor(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
		vs, err := vips(nd)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.Name == name && net.ParseIP(v.Address).To4() != nil {
				addr = v.Address
				return nil
			}
		}
		return fmt.Errorf("no %s on %s", name, nd.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
