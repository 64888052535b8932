package main

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// kubeProxyClusterCIDR is the pod range kube-proxy is told about
// (--cluster-cidr): traffic from outside it to a service is masqueraded.
const kubeProxyClusterCIDR = "9.0.0.0/8"

// kubeProxyRules renders what kube-proxy's iptables mode (1.2x, the
// "iptables-restore" it writes for the nat table) holds for n services of
// numBackend endpoints each, the service under test (vipAddr:vipPort with
// backends) placed in the middle of KUBE-SERVICES, the average position a
// service has in that linear chain:
//
//	KUBE-SERVICES  -d <cluster IP>/32 -p tcp --dport <port> -j KUBE-SVC-<hash>   (one per service)
//	KUBE-SVC-*     ! -s <cluster CIDR> ... -j KUBE-MARK-MASQ
//	               -m statistic --mode random --probability 1/k -j KUBE-SEP-<hash> ...
//	KUBE-SEP-*     -s <endpoint>/32 -j KUBE-MARK-MASQ (hairpin); -j DNAT --to-destination <endpoint>
//	KUBE-POSTROUTING masquerades what carries mark 0x4000
//
// The filter table rules (KUBE-FORWARD, KUBE-FIREWALL, ...) are left out:
// they do not depend on the number of services.
func kubeProxyRules(n int, backends []netip.AddrPort) string {
	var chains, rules strings.Builder
	chains.WriteString("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
	chains.WriteString(":KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n")
	rules.WriteString("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n")
	rules.WriteString("-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n")
	rules.WriteString("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n")
	rules.WriteString("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n")
	rules.WriteString("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n")
	rules.WriteString("-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n")
	rules.WriteString("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n")
	for i := range n {
		name := fmt.Sprintf("bench/svc-%d:http", i)
		clusterIP := netip.AddrFrom4([4]byte{11, 1, byte(i >> 8), byte(i)})
		eps := otherBackends(i)
		if i == n/2 {
			name, clusterIP, eps = "bench/under-test:http", netip.MustParseAddr(vipAddr), backends
		}
		svc := "KUBE-SVC-" + chainHash(name)
		fmt.Fprintf(&chains, ":%s - [0:0]\n", svc)
		fmt.Fprintf(&rules, "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport %d -j %s\n", clusterIP, name, vipPort, svc)
		fmt.Fprintf(&rules, "-A %s ! -s %s -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport %d -j KUBE-MARK-MASQ\n", svc, kubeProxyClusterCIDR, clusterIP, name, vipPort)
		for j, ep := range eps {
			sep := "KUBE-SEP-" + chainHash(name+ep.String())
			fmt.Fprintf(&chains, ":%s - [0:0]\n", sep)
			if left := len(eps) - j; left > 1 {
				fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s -> %s\" -m statistic --mode random --probability %.11f -j %s\n", svc, name, ep, 1/float64(left), sep)
			} else {
				fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s -> %s\" -j %s\n", svc, name, ep, sep)
			}
			fmt.Fprintf(&rules, "-A %s -s %s/32 -m comment --comment %s -j KUBE-MARK-MASQ\n", sep, ep.Addr(), name)
			fmt.Fprintf(&rules, "-A %s -p tcp -m comment --comment %s -m tcp -j DNAT --to-destination %s\n", sep, name, ep)
		}
	}
	return chains.String() + rules.String() + "COMMIT\n"
}

// chainHash is kube-proxy's chain suffix: base32 of the SHA-256, 16 characters.
func chainHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:16]
}

// installKubeProxy loads the rules into the kube-proxy side's node and
// returns how long iptables-restore took and how many rules it loaded.
func (e *env) installKubeProxy(ctx context.Context, n int) (time.Duration, int, error) {
	rules := kubeProxyRules(n, e.kp.backends)
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := e.kp.node.Exec(ctx, "iptables-restore")
	cmd.Stdin = strings.NewReader(rules)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return took, 0, fmt.Errorf("iptables-restore in %s: %w: %.500s", e.kp.node.NSName, err, out)
	}
	e.iptables = e.iptablesVersion(ctx)
	return took, strings.Count(rules, "\n-A "), nil
}

// iptablesVersion is `iptables --version` (run in the kube-proxy node)
// without the program name.
func (e *env) iptablesVersion(ctx context.Context) string {
	out, err := e.kp.node.Run(ctx, "iptables", "--version")
	if err != nil {
		return "iptables --version failed"
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "iptables "))
}
