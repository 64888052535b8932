package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/mesos"
)

// DC/OS's test_l4lb VIP.
const (
	l4lbTestName = "l4lbtest.marathon.l4lb.thisdcos.directory"
	l4lbTestPort = 5000
	l4lbTestApps = 5
	// l4lbTestRequests is how many requests go to the VIP, in parallel.
	l4lbTestRequests = 25
	l4lbHostPort     = 31500
)

// testL4LB is DC/OS's test_l4lb: five host-network apps on one VIP
// (/l4lbtest:5000 on their port definitions), each reachable directly and
// through the VIP; /v1/vips on dcnet-dns's port (62080) has exactly one
// tcp entry for l4lbtest.marathon.l4lb.thisdcos.directory:5000 whose
// backends are the five {"ip","port"}; 25 requests in parallel to the name
// reach all five.
func testL4LB(t *testing.T, mc *matrixCluster) {
	type be struct {
		ip   string
		port int
	}
	var want []be
	for i := range l4lbTestApps {
		nd := mc.nodes[i%len(mc.nodes)]
		port := l4lbHostPort + i
		uuid := "l4lbtest-" + strconv.Itoa(i)
		netsim.ServeName(t, nd.Namespace, net.JoinHostPort(nd.UnderlayIP.String(), strconv.Itoa(port)), uuid)
		mc.agents[i%len(mc.nodes)].add(hostTask{id: uuid, ports: []mesos.Port{hostPort(int64(port), "tcp", "/l4lbtest:"+strconv.Itoa(l4lbTestPort))}})
		want = append(want, be{nd.UnderlayIP.String(), port})
		// geturl('http://{host}:{port}/ping'): the service point answers.
		if err := dialAll(mc.nodes[0].Namespace, "tcp", net.JoinHostPort(nd.UnderlayIP.String(), strconv.Itoa(port)), uuid, 1); err != nil {
			t.Fatal(err)
		}
	}
	// geturl('http://l4lbtest...:5000/ping'), retried as DC/OS's geturl is.
	host := mc.nodes[0].Namespace
	var addr string
	err := netsim.WaitFor(context.Background(), 60*time.Second, 200*time.Millisecond, func() error {
		a, err := resolve(host, l4lbTestName, true)
		if err != nil {
			return err
		}
		addr = net.JoinHostPort(a.String(), strconv.Itoa(l4lbTestPort))
		counts, err := netsim.DialCount(host, l4lbTestApps, addr, l4lbDialMax)
		if err != nil || len(counts) != l4lbTestApps {
			return fmt.Errorf("%s: %v %v", addr, counts, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// vips = geturl("http://localhost:62080/v1/vips")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := mc.nodes[0].Run(ctx, "curl", "-sSf", "http://127.0.0.1:62080/v1/vips")
	if err != nil {
		t.Fatalf("curl localhost:62080/v1/vips: %v: %s", err, out)
	}
	var vips []map[string]any
	if err := json.Unmarshal([]byte(out), &vips); err != nil {
		t.Fatalf("/v1/vips: %v: %s", err, out)
	}
	var sel []map[string]any
	for _, v := range vips {
		if v["vip"] == l4lbTestName+":"+strconv.Itoa(l4lbTestPort) && v["protocol"] == "tcp" {
			sel = append(sel, v)
		}
	}
	if len(sel) != 1 {
		t.Fatalf("[vip] = [vip for vip in vips if ...]: %d entries in\n%s", len(sel), out)
	}
	backends := slices.Clone(want)
	for _, b := range sel[0]["backend"].([]any) {
		m := b.(map[string]any)
		if len(m) != 2 {
			t.Errorf("backend %v: want exactly ip and port", m)
		}
		i := slices.Index(backends, be{fmt.Sprint(m["ip"]), int(m["port"].(float64))})
		if i < 0 {
			t.Fatalf("backends.remove(%v): not among %v", m, backends)
		}
		backends = slices.Delete(backends, i, i+1)
	}
	if len(backends) != 0 {
		t.Errorf("backends not in /v1/vips: %v", backends)
	}
	// 25 requests in parallel, each a new connection to the name.
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range l4lbTestRequests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := resolve(host, l4lbTestName, true)
			if err != nil {
				t.Error(err)
				return
			}
			counts, err := netsim.DialCount(host, 1, net.JoinHostPort(a.String(), strconv.Itoa(l4lbTestPort)), l4lbDialMax)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for k, n := range counts {
				got[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(got) != l4lbTestApps {
		t.Errorf("%d requests reached %d of the %d apps: %v", l4lbTestRequests, len(got), l4lbTestApps, got)
	}
	t.Logf("%d requests to %s:%d: %v; /v1/vips entry: %v", l4lbTestRequests, l4lbTestName, l4lbTestPort, got, sel[0])
}

// testSpartanNet is DC/OS's test_dcos_cni_l4lb: a container on
// spartan-net (a bridge whose routes reach the overlay and private ranges,
// no default route) with dcnet-vipaccess in dcos-l4lb's place resolves and
// reaches the CNI backend's VIPs (named and IP, both families, TCP and
// UDP); anything else it sends the node's way is refused at once; DEL
// leaves nothing.
func testSpartanNet(t *testing.T, mc *matrixCluster, named4, named6 map[string]string) {
	nd := mc.nodes[0]
	dir := t.TempDir()
	nd.writeConf("40-spartan-net.conf", fmt.Sprintf(`{"cniVersion":"0.2.0","name":"spartan-net","type":"dcnet-vipaccess","dataDir":%q,
	  "delegate":{"type":"bridge","bridge":"sprt-cni0","ipMasq":true,"isGateway":true,
	    "ipam":{"type":"host-local","subnet":"192.168.250.0/24","dataDir":%q,
	      "routes":[{"dst":"9.0.0.0/8"},{"dst":"10.0.0.0/8"},{"dst":"172.16.0.0/12"},{"dst":"192.168.0.0/16"}]}}}`,
		filepath.Join(dir, "vipaccess"), filepath.Join(dir, "spartan-net")))
	c := nd.container("spartan-client")
	out, err := nd.cnitool("add", "spartan-net", c.Path)
	if err != nil || !strings.Contains(out, `"ip4"`) {
		t.Fatalf("cnitool add spartan-net: %v\n%s", err, out)
	}
	ctx := context.Background()
	routes, _ := c.Run(ctx, "ip", "route")
	t.Logf("spartan-net container routes:\n%s", routes)
	b := matrixBackends[0]
	for _, tc := range []struct {
		what, host string
		v4, byName bool
	}{
		{"named v4 by name", "", true, true}, {"named v4", named4[b.named], true, false}, {"IP v4", b.ip4, true, false},
		{"named v6 by name", "", false, true}, {"named v6", named6[b.named], false, false}, {"IP v6", b.ip6, false, false},
	} {
		host := tc.host
		if tc.byName {
			a, err := resolve(c.Namespace, b.named+".marathon.l4lb.thisdcos.directory", tc.v4)
			if err != nil {
				t.Errorf("%s: resolve through dcnet-dns: %v", tc.what, err)
				continue
			}
			host = a.String()
		}
		for _, p := range []struct {
			proto string
			port  int
		}{{"tcp", vipTCP}, {"udp", vipUDP}} {
			if err := dialAll(c.Namespace, p.proto, net.JoinHostPort(host, strconv.Itoa(p.port)), b.kind, 2); err != nil {
				t.Errorf("spartan-net container, %s %s: %v", tc.what, p.proto, err)
			}
		}
	}
	start := time.Now()
	_, err = netsim.DialCount(c.Namespace, 1, "203.0.113.9:80", l4lbDialMax)
	if err == nil || time.Since(start) > time.Second || !(strings.Contains(err.Error(), "unreachable") || strings.Contains(err.Error(), "no route")) {
		t.Errorf("a non-VIP destination from spartan-net: %v after %v, want refused at once (network unreachable)", err, time.Since(start))
	}
	if out, err := nd.cnitool("del", "spartan-net", c.Path); err != nil {
		t.Errorf("cnitool del spartan-net: %v\n%s", err, out)
	}
	if links, _ := nd.Run(ctx, "ip", "-o", "link"); strings.Contains(links, l4lbapi.VIPAccessPrefix) {
		t.Errorf("vipaccess link left after DEL:\n%s", links)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Error(err)
	}
}

// details reads nd's /v1/dcnet/vips.
func details(nd *node) (l4lbapi.Details, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := nd.Run(ctx, "curl", "-sSf", "http://"+l4lbHTTP+l4lbapi.PathDetails)
	var d l4lbapi.Details
	if err == nil {
		err = json.Unmarshal([]byte(out), &d)
	}
	return d, err
}

// testCollision: a container labelled with the CNI backend's named IPv4
// address as an IP VIP (the hijack of issue 13) is refused on every node,
// reported in /v1/dcnet/vips, the vips_refused gauge, dcnetctl vips and
// dcnetctl doctor; the named VIP keeps its traffic and its name; the
// refusal ends with the container.
func testCollision(t *testing.T, mc *matrixCluster, named4 map[string]string) {
	b := matrixBackends[0]
	held := named4[b.named]
	nd := mc.nodes[1]
	thief := nd.container("thief")
	netsim.ServeName(t, thief.Namespace, ":"+strconv.Itoa(vipTCP), "thief")
	attachPlugin(t, nd, thief, "dcos", "eth0", map[string]string{"VIP_0": net.JoinHostPort(held, strconv.Itoa(vipTCP))})
	heldBy := b.named + ".marathon.l4lb.thisdcos.directory"
	for _, n := range mc.nodes {
		err := netsim.WaitFor(context.Background(), 20*time.Second, 100*time.Millisecond, func() error {
			d, err := details(n)
			if err != nil {
				return err
			}
			for _, r := range d.Refused {
				if r.Address == held && r.HeldBy == heldBy {
					return nil
				}
			}
			return fmt.Errorf("%s refuses %+v", n.Name, d.Refused)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range mc.clients {
		if err := dialAll(c.Namespace, "tcp", net.JoinHostPort(held, strconv.Itoa(vipTCP)), b.kind, 5); err != nil {
			t.Errorf("named VIP from %s during the collision: %v", mc.nodes[i].Name, err)
		}
		if a, err := resolve(c.Namespace, heldBy, true); err != nil || a.String() != held {
			t.Errorf("%s from %s during the collision: %s %v, want %s", heldBy, mc.nodes[i].Name, a, err, held)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	metrics, _ := nd.Run(ctx, "curl", "-sSf", "http://"+l4lbHTTP+l4lbapi.PathMetrics)
	if !strings.Contains(metrics, "dcnet_l4lb_vips_refused 1\n") {
		t.Errorf("metrics of %s lack dcnet_l4lb_vips_refused 1", nd.Name)
	}
	ctl, _ := nd.Run(ctx, bin("dcnetctl"), "--socket", nd.socket, "vips")
	if !strings.Contains(ctl, "REFUSED: address held by "+heldBy) {
		t.Errorf("dcnetctl vips does not show the refusal:\n%s", ctl)
	}
	_, text, code := runDoctor(t, nd, false)
	if code != 1 || !strings.Contains(text, "FAIL dcnet-l4lb: vip addresses") || !strings.Contains(text, "held by "+heldBy) {
		t.Errorf("dcnetctl doctor (exit %d) does not report the refusal:\n%s", code, text)
	}
	t.Logf("dcnetctl vips on %s:\n%s", nd.Name, ctl)
	r := nd.execPlugin("dcnet", "DEL", thief.Name+"-eth0", thief.Path, "eth0",
		fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","type":"dcnet","network":"dcos","socket":%q}`, nd.socket))
	if r.ExitCode != 0 {
		t.Fatalf("DEL thief: %s %s", r.Stdout, r.Stderr)
	}
	err := netsim.WaitFor(context.Background(), 20*time.Second, 100*time.Millisecond, func() error {
		d, err := details(nd)
		if err == nil && len(d.Refused) > 0 {
			err = fmt.Errorf("still refused: %+v", d.Refused)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
}
