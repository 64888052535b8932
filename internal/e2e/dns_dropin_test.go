package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/fixtures"
	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedDNSDropIn runs dcnet-dns with DC/OS's own configuration
// files (conf/dns): Mesos-DNS mode on a master with mesos-dns.json (fed
// the fixture state), node mode on two agents with dcos-dns.json. On an
// agent, dig answers Mesos-DNS's names through the forwarder (the legacy
// big.dog.marathon.mesos too), the same records renamed under
// mesos.thisdcos.directory (from the master's /v1/axfr), the zk zone and
// forwarded names on 198.51.100.1; from the other agent, the agent's
// underlay address answers cluster names but REFUSES forwarded ones, and
// the refusal is counted.
func TestPrivilegedDNSDropIn(t *testing.T) {
	netsim.Privileged(t, "dig", "curl", "unbound")
	state := filepath.Join(fixtures.Dir(t, "mesos"), "master-state.json")
	f := netsim.NewFabric(t, "dnsdropin")
	ns := addNodes(t, f, "m1", "a1", "a2", "up")
	m1, a1, a2, up := ns[0], ns[1], ns[2], ns[3]
	startUnbound(t, up)
	conf := filepath.Join(repoRoot(), "conf", "dns")
	upIP, mip := up.UnderlayIP.String(), m1.UnderlayIP.String()
	mlog := filepath.Join(t.TempDir(), "mesos-dns.log")
	netsim.StartProcessT(t, m1, mlog, bin("dcnet-dns"), "--mode", "mesos-dns", "--config", filepath.Join(conf, "mesos-dns.json"),
		"--mesos-state-file", state, "--upstream", upIP)
	waitAnswer(t, m1, mip, "61053", "A", "leader.mesos", []string{"1.2.3.4"}, mesosDNSWait, mlog)
	var alogs []string
	for _, a := range []*netsim.Node{a1, a2} {
		alog := filepath.Join(t.TempDir(), a.Name+"-dns.log")
		alogs = append(alogs, alog)
		netsim.StartProcessT(t, a, alog, bin("dcnet-dns"), "--config", filepath.Join(conf, "dcos-dns.json"),
			"--mesos-dns", mip, "--upstream", upIP, "--node-ip", a.UnderlayIP.String(), "--l4lb-addr", "", "--mesos-dns-refresh", "2s")
	}
	const spartan = "198.51.100.1"
	for _, tt := range []struct{ qtype, name, want string }{
		{"A", "leader.mesos", "1.2.3.4"},
		// DC/OS's IP sources are host, netinfo: nginx runs on 1.2.3.11.
		{"A", "nginx.marathon.mesos", "1.2.3.11"},
		{"A", "big.dog.marathon.mesos", "1.2.3.11"}, // upstream's legacy name, dots kept
		{"A", "nginx.marathon.mesos.thisdcos.directory", "1.2.3.11"},
		{"SRV", "_leader._tcp.mesos.thisdcos.directory", "0 0 5050 leader.mesos.thisdcos.directory."},
		{"A", "zk-1.zk", mip},
		{"A", "zk-5.zk", mip},
		{"A", "localhost", "127.0.0.1"},
		{"A", "thisnode.thisdcos.directory", a1.UnderlayIP.String()},
		{"A", "www." + ubZone, ubAnswer},
	} {
		waitAnswer(t, a1, spartan, "53", tt.qtype, tt.name, []string{tt.want}, mesosDNSWait, append(alogs, mlog)...)
	}

	// From a2, a1's underlay address: cluster names yes, recursion no.
	a1IP := a1.UnderlayIP.String()
	waitAnswer(t, a2, a1IP, "53", "A", "zk-1.zk", []string{mip}, mesosDNSWait, alogs...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a2.Run(ctx, "dig", "+time=2", "+tries=1", "@"+a1IP, "www."+ubZone, "A")
	if err != nil || !strings.Contains(out, "status: REFUSED") {
		t.Errorf("dig @%s www.%s from another node: want REFUSED, got %v\n%s", a1IP, ubZone, err, out)
	}
	// a1 itself may ask its own underlay address.
	waitAnswer(t, a1, a1IP, "53", "A", "www."+ubZone, []string{ubAnswer}, mesosDNSWait, alogs...)
	metrics, err := a1.Run(ctx, "curl", "-sf", "http://127.0.0.1:62080/metrics")
	if err != nil || !strings.Contains(metrics, "dcnet_dns_recursion_refused_total 1") {
		t.Errorf("refusal not counted: %v\n%s", err, grepLines(metrics, "refused"))
	}
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(out)
}
