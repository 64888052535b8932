package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

const (
	l4lbHTTP    = "127.0.0.1:62083"
	webDNSName  = "web.marathon.l4lb.thisdcos.directory"
	l4lbDialMax = 3 * time.Second
)

// l4lbVIP is the part of /v1/vips the test reads.
type l4lbVIP struct {
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Name     string `json:"name"`
	Address  string `json:"address"`
	Backends []struct {
		IP     string `json:"ip"`
		Active bool   `json:"active"`
	} `json:"backend"`
}

// attachWeb attaches a container with VIP_0=/web:80 and serves its name on :80.
func attachWeb(t *testing.T, nd *node, name string) attached {
	t.Helper()
	nd.writeConf("20-web.conflist", fmt.Sprintf(`{"cniVersion":"1.1.0","name":"web","plugins":[{"type":"dcnet","network":"dcos","socket":%q,
	  "args":{"labels":[{"key":"VIP_0","value":"/web:80"}]}}]}`, nd.socket))
	c, err := nd.AddContainer(name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := nd.cnitool("add", "web", c.Path)
	if err != nil {
		t.Fatalf("cnitool add web on %s: %v\n%s", nd.Name, err, out)
	}
	a := attached{Container: c}
	var res struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	for _, ip := range res.IPs {
		if p, err := netip.ParsePrefix(ip.Address); err == nil && p.Addr().Is4() {
			a.ip4 = p.Addr().String()
		} else if err == nil {
			a.ip6 = p.Addr().String()
		}
	}
	netsim.ServeName(t, c.Namespace, ":80", name)
	return a
}

// vips reads /v1/vips of the node's dcnet-l4lb.
func vips(nd *node) ([]l4lbVIP, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := nd.Run(ctx, "curl", "-sSf", "http://"+l4lbHTTP+"/v1/vips")
	if err != nil {
		return nil, fmt.Errorf("curl /v1/vips on %s: %v: %s", nd.Name, err, out)
	}
	var vs []l4lbVIP
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		return nil, fmt.Errorf("/v1/vips on %s: %v: %s", nd.Name, err, out)
	}
	return vs, nil
}

// waitWebVIP waits until nd programs the web VIP of family is4 with n
// active backends and returns its address.
func waitWebVIP(t *testing.T, nd *node, is4 bool, n int) string {
	t.Helper()
	var addr string
	err := netsim.WaitFor(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
		vs, err := vips(nd)
		if err != nil {
			return err
		}
		for _, v := range vs {
			a, err := netip.ParseAddr(v.Address)
			if err != nil || v.Name != webDNSName || v.Protocol != "tcp" || v.Port != 80 || a.Is4() != is4 {
				continue
			}
			active := 0
			for _, b := range v.Backends {
				if b.Active {
					active++
				}
			}
			if active != n {
				return fmt.Errorf("%s has %d active backends, want %d: %+v", v.Address, active, n, v)
			}
			addr = v.Address
			return nil
		}
		return fmt.Errorf("no %s VIP (v4 %t) on %s: %+v", webDNSName, is4, nd.Name, vs)
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestPrivilegedL4LBNamedVIP: dcnet-l4lb on two nodes; three backends of
// /web:80 on one node; a client on the other reaches all three through the
// named VIP's allocated addresses (IPv4 and IPv6), the VIP is in the node's
// nft table, the name record is published, and a deleted table is rebuilt
// by the periodic sync.
func TestPrivilegedL4LBNamedVIP(t *testing.T) {
	netsim.RequireCommands(t, "curl", "nft")
	_, nodes, members, endpoints := agents(t, "el4", 2, dualConfig)
	l4lb := bin("dcnet-l4lb")
	for _, nd := range nodes {
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), l4lb, "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s", "--log-level", "debug")
	}
	names := []string{"web1", "web2", "web3"}
	for _, name := range names {
		attachWeb(t, nodes[0], name)
	}
	client := attach(t, nodes[1], "client")

	for _, tc := range []struct {
		family string
		is4    bool
		conns  int
	}{{"ipv4", true, 150}, {"ipv6", false, 60}} {
		t.Run(tc.family, func(t *testing.T) {
			addr := waitWebVIP(t, nodes[1], tc.is4, len(names))
			counts, err := netsim.DialCount(client.Namespace, tc.conns, net.JoinHostPort(addr, "80"), l4lbDialMax)
			if err != nil {
				t.Fatalf("connections to %s: %v (so far %v)", addr, err, counts)
			}
			for _, name := range names {
				if counts[name] == 0 {
					t.Errorf("backend %s never answered on %s: %v", name, addr, counts)
				}
			}
			t.Logf("%s: %v", addr, counts)
			fam := "ip"
			if !tc.is4 {
				fam = "ip6"
			}
			out, err := nodes[1].Run(context.Background(), "nft", "list", "table", fam, "dcnet-l4lb")
			if err != nil || !strings.Contains(out, addr+" . tcp . 80") {
				t.Errorf("nft list table %s dcnet-l4lb on %s lacks %s (%v):\n%s", fam, nodes[1].Name, addr, err, out)
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := members[0].node.Run(ctx, "etcdctl", "--endpoints", endpoints, "get", "--print-value-only", "/dcnet/v1/vipnames/"+webDNSName)
	if err != nil || !strings.Contains(out, `"name":"`+webDNSName+`"`) {
		t.Errorf("vip name record: %v: %s", err, out)
	}

	// Hand damage: the periodic sync rebuilds a deleted table.
	if out, err := nodes[1].Run(context.Background(), "nft", "delete", "table", "ip", "dcnet-l4lb"); err != nil {
		t.Fatalf("nft delete table: %v: %s", err, out)
	}
	err = netsim.WaitFor(context.Background(), 10*time.Second, 100*time.Millisecond, func() error {
		out, err := nodes[1].Run(context.Background(), "nft", "list", "table", "ip", "dcnet-l4lb")
		if err != nil || !strings.Contains(out, " . tcp . 80") {
			return fmt.Errorf("table not repaired: %v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
