package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Forwarding tests: dcnet-dns in one node netns forwards to Debian's unbound
// in others, and dig asks from a client node; answers too big for UDP are
// served from a generated Mesos state.
const (
	// ubZone is answered by every unbound: any name below it is ubAnswer.
	ubZone   = "test."
	ubAnswer = "192.0.2.10"
	// fwdTimeout is dcnet-dns's --timeout per upstream query; fwdMargin is
	// what a SERVFAIL may take beyond it (process start of dig, scheduling).
	fwdTimeout = time.Second
	fwdMargin  = time.Second
	// fwdFast bounds a forwarded answer that must not wait for a dead
	// upstream's timeout.
	fwdFast = fwdTimeout / 2
	// fwdRepeat is how many fresh names a repeat check asks.
	fwdRepeat = 10
	// bigApp has bigTasks running instances with container IPs on the
	// overlay, so its names have bigTasks A records.
	bigTasks     = 200
	bigTaskName  = "web.marathon.containerip.dcos.thisdcos.directory"
	bigMesosName = "web.marathon.mesos"
	// udpMinSize is the UDP payload limit without EDNS0 (RFC 1035).
	udpMinSize = 512
	// ednsBigBuffer is the EDNS0 buffer size dig asks for in the EDNS0 check.
	ednsBigBuffer = 4096
)

// nodeClient lets dig() run in a node's netns, as in a container's.
func nodeClient(n *netsim.Node) attached {
	return attached{Container: &netsim.Container{Namespace: n.Namespace, Name: n.Name, Node: n}}
}

// startUnbound runs Debian's unbound on n's underlay IP, port 53, answering
// every name below ubZone with ubAnswer and NXDOMAIN for everything else,
// with no lookups of its own. It waits until unbound answers.
func startUnbound(t *testing.T, n *netsim.Node) *netsim.Process {
	t.Helper()
	dir := t.TempDir()
	path, err := netsim.WriteUnboundConf(dir, n.UnderlayIP, ubZone, 3600, ubAnswer)
	if err != nil {
		t.Fatal(err)
	}
	p := netsim.StartProcessT(t, n, filepath.Join(dir, "unbound.log"), "unbound", "-d", "-c", path)
	c := nodeClient(n)
	err = netsim.WaitFor(context.Background(), 10*time.Second, 50*time.Millisecond, func() error {
		out, err := dig(c, n.UnderlayIP.String(), "+short", "+time=1", "+tries=1", "ready."+ubZone)
		if err != nil || out != ubAnswer {
			return fmt.Errorf("unbound on %s: %q %v", n.Name, out, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, netsim.TailFile(p.LogPath, 20))
	}
	return p
}

// startForwarder runs dcnet-dns on n's underlay IP, port 53, with
// --timeout fwdTimeout and the given flags, and waits until it answers.
// The clients are on other nodes: the underlay is a --recursion-net (by
// default an underlay address forwards for the node itself only).
func startForwarder(t *testing.T, n *netsim.Node, flags ...string) *netsim.Process {
	t.Helper()
	ip := n.UnderlayIP.String()
	argv := append([]string{bin("dcnet-dns"), "--listen", net.JoinHostPort(ip, "53"), "--spartan-link", "", "--http-addr", "",
		"--timeout", fwdTimeout.String(), "--recursion-net", "198.18.0.0/15"}, flags...)
	p := netsim.StartProcessT(t, n, "", argv...)
	c := nodeClient(n)
	err := netsim.WaitFor(context.Background(), 10*time.Second, 50*time.Millisecond, func() error {
		out, err := dig(c, ip, "+short", "+time=1", "+tries=1", "ready.spartan")
		if err != nil || out != "127.0.0.1" {
			return fmt.Errorf("dcnet-dns on %s: ready.spartan %q %v", n.Name, out, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, netsim.TailFile(p.LogPath, 20))
	}
	return p
}

// addNodes adds named nodes to f.
func addNodes(t *testing.T, f *netsim.Fabric, names ...string) []*netsim.Node {
	t.Helper()
	out := make([]*netsim.Node, len(names))
	for i, name := range names {
		n, err := f.AddNode(name)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = n
	}
	return out
}

// killHost crashes an upstream's host: its process is SIGKILLed (by PID)
// and its underlay link goes down, so queries to it vanish without an ICMP
// error and only a timeout tells.
func killHost(t *testing.T, n *netsim.Node, p *netsim.Process) {
	t.Helper()
	if err := p.Kill9(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Run(context.Background(), "ip", "link", "set", netsim.UnderlayDev, "down"); err != nil {
		t.Fatal(err)
	}
}

// digReply is what the tests read from dig's full output.
type digReply struct {
	status  string
	flags   []string
	answers int // A records of the asked name in the answer section
	header  int // ANSWER: count in the header
	size    int // MSG SIZE rcvd
	elapsed time.Duration
	out     string
}

func (r digReply) flag(f string) bool {
	for _, x := range r.flags {
		if x == f {
			return true
		}
	}
	return false
}

var (
	digStatusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	digFlagsRE  = regexp.MustCompile(`;; flags: ([a-z ]*);.*ANSWER: (\d+)`)
	digSizeRE   = regexp.MustCompile(`MSG SIZE\s+rcvd: (\d+)`)
)

// digFull runs dig in c and parses the last response it printed (after a
// TCP retry, the TCP one).
func digFull(t *testing.T, c attached, server, name string, args ...string) digReply {
	t.Helper()
	t0 := time.Now()
	out, err := dig(c, server, append(args, name)...)
	r := digReply{elapsed: time.Since(t0), out: out}
	if err != nil {
		t.Fatalf("dig %s %v: %v\n%s", name, args, err, out)
	}
	last := func(re *regexp.Regexp) []string {
		m := re.FindAllStringSubmatch(out, -1)
		if len(m) == 0 {
			t.Fatalf("dig %s %v: no %q in\n%s", name, args, re, out)
		}
		return m[len(m)-1]
	}
	r.status = last(digStatusRE)[1]
	m := last(digFlagsRE)
	r.flags = strings.Fields(m[1])
	r.header, _ = strconv.Atoi(m[2])
	r.size, _ = strconv.Atoi(last(digSizeRE)[1])
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 5 && !strings.HasPrefix(l, ";") && strings.EqualFold(f[0], strings.TrimSuffix(name, ".")+".") && f[3] == "A" {
			r.answers++
		}
	}
	return r
}

// TestPrivilegedDNSForwardFailover: dcnet-dns forwards to two unbound
// upstreams in other namespaces; with one killed every fresh name still
// answers, each without waiting for the dead one; with both killed the
// answer is SERVFAIL within the upstream timeout, also when the upstreams'
// hosts vanish (no ICMP, only the timeout tells).
func TestPrivilegedDNSForwardFailover(t *testing.T) {
	netsim.Privileged(t, "dig", "unbound")
	f := netsim.NewFabric(t, "efwd")
	ns := addNodes(t, f, "up1", "up2", "dns", "client")
	up1, up2, dnsNode, client := ns[0], ns[1], ns[2], nodeClient(ns[3])
	p1, p2 := startUnbound(t, up1), startUnbound(t, up2)
	startForwarder(t, dnsNode, "--upstream", up1.UnderlayIP.String()+","+up2.UnderlayIP.String())
	server := dnsNode.UnderlayIP.String()

	ask := func(name string) digReply {
		t.Helper()
		return digFull(t, client, server, name, "+tries=1")
	}
	if r := ask("first." + ubZone); r.status != "NOERROR" || r.answers != 1 {
		t.Fatalf("forwarded first.%s with both upstreams: %s, %d answers\n%s", ubZone, r.status, r.answers, r.out)
	}

	if err := p1.Kill9(); err != nil {
		t.Fatal(err)
	}
	for i := range fwdRepeat {
		name := fmt.Sprintf("one-dead-%d.%s", i, ubZone)
		r := ask(name)
		if r.status != "NOERROR" || r.answers != 1 || !strings.Contains(r.out, ubAnswer) {
			t.Errorf("%s with up1 killed: %s, %d answers\n%s", name, r.status, r.answers, r.out)
		}
		if r.elapsed > fwdFast {
			t.Errorf("%s with up1 killed took %v, want < %v (no wait for the dead upstream)", name, r.elapsed, fwdFast)
		}
	}

	if err := p2.Kill9(); err != nil {
		t.Fatal(err)
	}
	r := ask("all-dead." + ubZone)
	t.Logf("all upstreams killed: %s in %v", r.status, r.elapsed)
	if r.status != "SERVFAIL" || r.elapsed > fwdTimeout+fwdMargin {
		t.Errorf("all upstreams killed: %s after %v, want SERVFAIL within %v\n%s", r.status, r.elapsed, fwdTimeout+fwdMargin, r.out)
	}

	// Hosts gone: no port-unreachable any more, the timeout must decide.
	killHost(t, up1, p1)
	killHost(t, up2, p2)
	r = ask("hosts-gone." + ubZone)
	t.Logf("upstream hosts gone: %s in %v", r.status, r.elapsed)
	if r.status != "SERVFAIL" || r.elapsed > fwdTimeout+fwdMargin {
		t.Errorf("upstream hosts gone: %s after %v, want SERVFAIL within %v\n%s", r.status, r.elapsed, fwdTimeout+fwdMargin, r.out)
	}
	if r.elapsed < fwdTimeout*9/10 {
		t.Errorf("upstream hosts gone: SERVFAIL after %v, before the %v timeout could have expired", r.elapsed, fwdTimeout)
	}
}

// TestPrivilegedDNSForwardScore: with three upstreams dcnet-dns races the
// two with the lowest failure score. The first two configured vanish; the
// first question pays one timeout before the third answers, and the
// failure scores then keep every later question off the dead pair: each
// answers without waiting for a timeout.
func TestPrivilegedDNSForwardScore(t *testing.T) {
	netsim.Privileged(t, "dig", "unbound")
	f := netsim.NewFabric(t, "efwdscore")
	ns := addNodes(t, f, "up1", "up2", "up3", "dns", "client")
	ups, dnsNode, client := ns[:3], ns[3], nodeClient(ns[4])
	var procs []*netsim.Process
	var addrs []string
	for _, u := range ups {
		procs = append(procs, startUnbound(t, u))
		addrs = append(addrs, u.UnderlayIP.String())
	}
	startForwarder(t, dnsNode, "--upstream", strings.Join(addrs, ","))
	server := dnsNode.UnderlayIP.String()
	ask := func(name string) digReply {
		t.Helper()
		return digFull(t, client, server, name, "+tries=1", "+time=5")
	}
	if r := ask("first." + ubZone); r.status != "NOERROR" || r.answers != 1 {
		t.Fatalf("first.%s with three upstreams: %s, %d answers\n%s", ubZone, r.status, r.answers, r.out)
	}

	killHost(t, ups[0], procs[0])
	killHost(t, ups[1], procs[1])
	r := ask("learn." + ubZone)
	t.Logf("first question after up1 and up2 vanished: %s in %v", r.status, r.elapsed)
	if r.status != "NOERROR" || r.answers != 1 {
		t.Fatalf("learn.%s: %s, %d answers\n%s", ubZone, r.status, r.answers, r.out)
	}
	if r.elapsed > 2*fwdTimeout+fwdMargin {
		t.Errorf("learn.%s took %v, want within one timeout (%v) plus margin", ubZone, r.elapsed, fwdTimeout)
	}
	for i := range fwdRepeat {
		name := fmt.Sprintf("after-%d.%s", i, ubZone)
		r := ask(name)
		if r.status != "NOERROR" || r.answers != 1 {
			t.Errorf("%s: %s, %d answers\n%s", name, r.status, r.answers, r.out)
		}
		if r.elapsed > fwdFast {
			t.Errorf("%s took %v, want < %v: the live upstream up3 should be raced first", name, r.elapsed, fwdFast)
		}
	}
}

// bigState is a Mesos master state with one agent and one Marathon app,
// "web", of n running tasks, each with its own container IP.
func bigState(n int) mesos.State {
	const agentID = "20251128-000000-0000000000-5050-1-S0"
	fw := mesos.Framework{ID: "20251128-000000-0000000000-5050-1-0001", Name: "marathon", Hostname: "198.18.0.1",
		PID: "scheduler(1)@198.18.0.1:25501", Active: true}
	for i := range n {
		st := mesos.Status{State: mesos.TaskRunning, Timestamp: 1764288000}
		st.ContainerStatus.NetworkInfos = []mesos.NetworkInfo{{Name: "dcos",
			IPAddresses: []mesos.IPAddress{{Protocol: "IPv4", IPAddress: fmt.Sprintf("9.0.%d.%d", i/250, i%250+2)}}}}
		fw.Tasks = append(fw.Tasks, mesos.Task{ID: fmt.Sprintf("web.%08x-0000-11f0-8000-000000000000", i), Name: "web",
			FrameworkID: fw.ID, AgentID: agentID, State: mesos.TaskRunning, Statuses: []mesos.Status{st}})
	}
	return mesos.State{ID: "master-1", PID: "master@198.18.0.1:5050", Hostname: "198.18.0.1", Version: "1.11.0",
		Leader: "master@198.18.0.1:5050", Frameworks: []mesos.Framework{fw},
		Agents: []mesos.Agent{{ID: agentID, Hostname: "198.18.0.2", PID: "slave(1)@198.18.0.2:5051", Active: true}}}
}

// TestPrivilegedDNSLargeAnswer: a name with 200 A records (200 tasks of one
// app, from --mesos-state-file) is cut to fit 512 bytes over UDP with TC
// set, comes complete over TCP and through dig's own TCP retry, and a
// bigger EDNS0 buffer carries more of it over UDP.
func TestPrivilegedDNSLargeAnswer(t *testing.T) {
	netsim.Privileged(t, "dig")
	f := netsim.NewFabric(t, "ebigdns")
	ns := addNodes(t, f, "dns", "client")
	dnsNode, client := ns[0], nodeClient(ns[1])
	b, err := json.Marshal(bigState(bigTasks))
	if err != nil {
		t.Fatal(err)
	}
	state := writeFile(t, t.TempDir(), "state.json", string(b))
	// The upstream is never asked: every name here is in a cluster zone.
	startForwarder(t, dnsNode, "--mesos-state-file", state, "--upstream", "127.0.0.1:5353")
	server := dnsNode.UnderlayIP.String()

	for _, name := range []string{bigTaskName, bigMesosName} {
		t.Run(name, func(t *testing.T) {
			ask := func(args ...string) digReply { return digFull(t, client, server, name, args...) }
			check := func(what string, r digReply, wantTC bool) {
				t.Helper()
				if r.status != "NOERROR" || r.flag("tc") != wantTC || r.answers != r.header {
					t.Errorf("%s: status %s flags %v, %d A records (header says %d), want NOERROR and tc=%v\n%s",
						what, r.status, r.flags, r.answers, r.header, wantTC, r.out)
				}
			}
			plain512 := ask("+notcp", "+ignore", "+noedns")
			check("UDP without EDNS0", plain512, true)
			if plain512.answers == 0 || plain512.answers >= bigTasks || plain512.size > udpMinSize {
				t.Errorf("UDP without EDNS0: %d records in %d bytes, want some but fewer than %d in at most %d bytes",
					plain512.answers, plain512.size, bigTasks, udpMinSize)
			}
			udp := ask("+notcp", "+ignore")
			check("UDP, dig's default EDNS0 buffer", udp, true)
			if udp.answers >= bigTasks {
				t.Errorf("UDP, dig's default EDNS0 buffer: %d records, want fewer than %d", udp.answers, bigTasks)
			}
			tcp := ask("+tcp")
			check("TCP", tcp, false)
			if tcp.answers != bigTasks {
				t.Errorf("TCP: %d records, want %d", tcp.answers, bigTasks)
			}
			retry := ask()
			check("UDP then dig's TCP retry", retry, false)
			if retry.answers != bigTasks || !strings.Contains(retry.out, "Truncated, retrying in TCP mode") {
				t.Errorf("plain dig: %d records, want %d after a TCP retry\n%s", retry.answers, bigTasks, retry.out)
			}
			edns := ask("+notcp", "+ignore", "+bufsize="+strconv.Itoa(ednsBigBuffer))
			if edns.status != "NOERROR" || edns.answers <= plain512.answers || edns.answers <= udp.answers || edns.size > ednsBigBuffer {
				t.Errorf("UDP with a %d-byte EDNS0 buffer: %s, %d records in %d bytes, want more than %d (512 bytes) and %d (dig's default)",
					ednsBigBuffer, edns.status, edns.answers, edns.size, plain512.answers, udp.answers)
			}
			// 200 A records take about 3.3 kB: all fit in the big buffer.
			check("UDP with a big EDNS0 buffer", edns, false)
			if edns.answers != bigTasks {
				t.Errorf("UDP with a %d-byte EDNS0 buffer: %d records, want all %d", ednsBigBuffer, edns.answers, bigTasks)
			}
			t.Logf("A records over UDP: %d in %d bytes without EDNS0, %d in %d bytes with dig's default buffer, %d in %d bytes with %d (tc=%v); TCP %d",
				plain512.answers, plain512.size, udp.answers, udp.size, edns.answers, edns.size, ednsBigBuffer, edns.flag("tc"), tcp.answers)
		})
	}
}
