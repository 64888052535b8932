package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/internal/netsim"
)

const (
	// dnsForwardedName is answered by the test's upstream resolver.
	dnsForwardedName = "example.test."
	dnsForwardedIP   = "192.0.2.7"
	dnsDigTimeout    = 10 * time.Second
	dnsVIPWait       = 30 * time.Second
)

// startUpstream serves dnsForwardedName A dnsForwardedIP on ip:53 (UDP)
// from a socket opened inside nd's netns; other names answer NXDOMAIN.
func startUpstream(t *testing.T, nd *node, ip string) {
	t.Helper()
	var pc net.PacketConn
	if err := nd.Do(func(ns.NetNS) error {
		var err error
		pc, err = net.ListenPacket("udp", net.JoinHostPort(ip, "53"))
		return err
	}); err != nil {
		t.Fatalf("upstream on %s: %v", nd.Name, err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg).SetReply(req)
		q := req.Question[0]
		if strings.EqualFold(q.Name, dnsForwardedName) && q.Qtype == dns.TypeA {
			rr, _ := dns.NewRR(dnsForwardedName + " 60 IN A " + dnsForwardedIP)
			resp.Answer = []dns.RR{rr}
		} else {
			resp.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(resp)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
}

// dig runs dig in c against server and returns its output, trimmed.
func dig(c attached, server string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dnsDigTimeout)
	defer cancel()
	argv := append([]string{"dig", "+time=2", "+tries=2", "@" + server}, args...)
	out, err := c.Run(ctx, argv...)
	return strings.TrimSpace(out), err
}

// TestPrivilegedDNS: dcnet-dns on a node answers, for a container on that
// node, ready.spartan, thisnode, a named VIP once dcnet-l4lb programmed it
// (and the VIP then answers), a forwarded name from an upstream in another
// namespace, and NXDOMAIN for an unknown cluster name.
func TestPrivilegedDNS(t *testing.T) {
	netsim.RequireCommands(t, "curl", "nft", "dig")
	_, nodes, _, endpoints := agents(t, "edns", 2, dualConfig)
	for _, nd := range nodes {
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), bin("dcnet-l4lb"), "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", "2s")
	}
	upIP := nodes[0].UnderlayIP.String()
	startUpstream(t, nodes[0], upIP)
	a2 := nodes[1].UnderlayIP.String()
	netsim.StartProcessT(t, nodes[1].Node, filepath.Join(nodes[1].dir, "dns.log"), bin("dcnet-dns"),
		"--listen", net.JoinHostPort(a2, "53"), "--node-ip", a2, "--etcd-endpoints", endpoints,
		"--upstream", upIP, "--timeout", "1s", "--recursion-net", "9.0.0.0/8") // the node's containers ask its underlay address
	client := attach(t, nodes[1], "client")

	err := netsim.WaitFor(context.Background(), 10*time.Second, 100*time.Millisecond, func() error {
		out, err := dig(client, a2, "+short", "ready.spartan")
		if err != nil || out != "127.0.0.1" {
			return fmt.Errorf("ready.spartan: %q %v", out, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, netsim.TailFile(filepath.Join(nodes[1].dir, "dns.log"), 30))
	}
	for _, tc := range []struct{ name, want string }{
		{"thisnode.thisdcos.directory", a2},
		{dnsForwardedName, dnsForwardedIP},
	} {
		if out, err := dig(client, a2, "+short", tc.name); err != nil || out != tc.want {
			t.Errorf("dig %s: %q (%v), want %s", tc.name, out, err, tc.want)
		}
	}
	if out, err := dig(client, a2, "nope.l4lb.thisdcos.directory"); err != nil || !strings.Contains(out, "status: NXDOMAIN") {
		t.Errorf("dig nope.l4lb.thisdcos.directory: want NXDOMAIN (%v):\n%s", err, out)
	}

	// The name appears only once the VIP is programmed: the first answer
	// must already be reachable.
	attachWeb(t, nodes[0], "web1")
	var vip string
	err = netsim.WaitFor(context.Background(), dnsVIPWait, 100*time.Millisecond, func() error {
		out, err := dig(client, a2, "+short", webDNSName)
		if err != nil || out == "" {
			return fmt.Errorf("%s: %q %v", webDNSName, out, err)
		}
		vip = out
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := netip.ParseAddr(vip); err != nil || !a.Is4() || !netip.MustParsePrefix("11.0.0.0/8").Contains(a) {
		t.Fatalf("%s -> %q, want one address in 11.0.0.0/8", webDNSName, vip)
	}
	t.Logf("%s -> %s", webDNSName, vip)
	counts, err := netsim.DialCount(client.Namespace, 1, net.JoinHostPort(vip, "80"), l4lbDialMax)
	if err != nil || counts["web1"] != 1 {
		t.Errorf("first connection to %s (%s) as soon as it resolved: %v %v", webDNSName, vip, counts, err)
	}
	if out, err := dig(client, a2, "+short", "AAAA", webDNSName); err != nil || !strings.HasPrefix(out, "fd01:c::") {
		t.Errorf("dig AAAA %s: %q (%v)", webDNSName, out, err)
	}
}
