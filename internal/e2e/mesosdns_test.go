package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/internal/fixtures"
	"github.com/dcnet/dcnet/internal/mesostest"
	"github.com/dcnet/dcnet/internal/netsim"
)

const (
	// mesosDNSWait bounds waiting for a daemon to serve its first answer.
	mesosDNSWait = 20 * time.Second
	// mesosDNSChangeWait bounds how long a new task may take to appear on
	// an agent (event, poll, etcd watch, zone swap).
	mesosDNSChangeWait = 5 * time.Second
	// mesosDNSAddedTask is the task the test adds, cloned from nginx.
	mesosDNSAddedTask = "added"
	mesosDNSAddedIP   = "10.3.0.99"
	// mesosDNSTakeoverTask is added after the publishing master is killed.
	mesosDNSTakeoverTask = "takeover"
	mesosDNSTakeoverIP   = "10.3.0.98"
	// mesosDNSTakeoverWait bounds the takeover: the killed publisher's
	// election lease (10 s) runs out, the other master publishes.
	mesosDNSTakeoverWait = 20 * time.Second
	// mesosDNSCNAME is configured on the agent as a CNAME to leader.mesos.
	mesosDNSCNAME = "registry.component.thisdcos.directory"
)

// fakeMesosMaster holds a Mesos master state as JSON and serves it from a
// mesostest.Master on ip:5050 of a node (with its SUBSCRIBE stream: every
// task added is announced as TASK_ADDED).
type fakeMesosMaster struct {
	mu    sync.Mutex
	state map[string]any
	srv   *mesostest.Master
}

// body is the current state document.
func (m *fakeMesosMaster) body() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bodyLocked()
}

func (m *fakeMesosMaster) bodyLocked() []byte {
	b, _ := json.Marshal(m.state)
	return b
}

// startFakeMesosMaster serves the fixture master state on nd, with the
// leader and pid rewritten to nd's address.
func startFakeMesosMaster(t *testing.T, nd *netsim.Node, fixture string) *fakeMesosMaster {
	t.Helper()
	raw, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMesosMaster{}
	if err := json.Unmarshal(raw, &m.state); err != nil {
		t.Fatalf("fixture %s: %v", fixture, err)
	}
	pid := "master@" + net.JoinHostPort(nd.UnderlayIP.String(), mesostest.Port)
	m.state["pid"], m.state["leader"] = pid, pid
	if m.srv, err = mesostest.Start(nd, m.bodyLocked()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.srv.Close() })
	return m
}

// addTask adds a running copy of marathon's nginx task named name with
// container IP ip (nginx's Mesos containerizer IP replaced).
func (m *fakeMesosMaster) addTask(t *testing.T, name, ip string) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, fw := range m.state["frameworks"].([]any) {
		f := fw.(map[string]any)
		if f["name"] != "marathon" {
			continue
		}
		for _, task := range f["tasks"].([]any) {
			if task.(map[string]any)["name"] != "nginx" {
				continue
			}
			b, _ := json.Marshal(task)
			b = bytes.ReplaceAll(b, []byte(`"10.3.0.3"`), []byte(`"`+ip+`"`))
			var clone map[string]any
			json.Unmarshal(b, &clone)
			clone["name"], clone["id"] = name, name+".e2e-1"
			f["tasks"] = append(f["tasks"].([]any), clone)
			m.srv.Set(m.bodyLocked(), mesostest.TaskAdded(name))
			return
		}
	}
	t.Fatal("fixture has no marathon task nginx to clone")
}

// expected computes what dcnet-dns should answer for the fake master's
// current state, with the same generator configuration.
func (m *fakeMesosMaster) expected(t *testing.T, masters ...string) (rs, tn records.RecordSet) {
	t.Helper()
	st, err := mesos.ParseState(bytes.NewReader(m.body()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := records.DefaultConfig()
	cfg.Masters = masters
	cfg.LookupHost = lookupHost // the fixture's framework "no pid" is at "localhost", as dcnet-dns resolves it
	if rs, err = records.Generate(st, cfg); err != nil {
		t.Fatal(err)
	}
	if tn, err = records.TaskNames(st, records.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	return rs, tn
}

// lookupHost resolves a host name with the system resolver, as dcnet-dns
// does for the names in a Mesos state.
func lookupHost(host string) []netip.Addr {
	ips, _ := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	return ips
}

// digShort asks server (ip[:port]) from inside nd, +short, and returns the
// sorted answer lines.
func digShort(nd *netsim.Node, server, port string, qtype, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dnsDigTimeout)
	defer cancel()
	out, err := nd.Run(ctx, "dig", "+time=2", "+tries=1", "+short", "@"+server, "-p", port, qtype, name)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, ";") {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines, nil
}

// waitAnswer waits until dig answers want (sorted lines) and returns how
// long it took.
func waitAnswer(t *testing.T, nd *netsim.Node, server, port, qtype, name string, want []string, timeout time.Duration, logs ...string) time.Duration {
	t.Helper()
	start := time.Now()
	err := netsim.WaitFor(context.Background(), timeout, 100*time.Millisecond, func() error {
		got, err := digShort(nd, server, port, qtype, name)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("dig @%s -p %s %s %s: %q, want %q", server, port, qtype, name, got, want)
		}
		return nil
	})
	if err != nil {
		var tails []string
		for _, l := range logs {
			tails = append(tails, l+":\n"+netsim.TailFile(l, 20))
		}
		t.Fatalf("%v\n%s", err, strings.Join(tails, "\n"))
	}
	return time.Since(start)
}

func addrStrings(rs records.RecordSet, typ records.Type, name string) []string {
	out := append([]string(nil), rs.Strings(typ)[name]...)
	slices.Sort(out)
	return out
}

// TestPrivilegedMesosDNS: a fake Mesos master serving the fixture state
// feeds dcnet-dns --mode mesos-dns on a master node, which answers
// leader.mesos, task names and SRVs on port 61053 and /v1/axfr on 8123;
// a per-node dcnet-dns on an agent forwards *.mesos to it and serves the
// task names of dcos.thisdcos.directory from etcd. A task added to the
// state appears on the agent within a few seconds: the masters poll only
// every 30 s, so it comes through the SUBSCRIBE event stream. A second master runs
// Mesos-DNS mode too: only one of them publishes the task names, and when
// that one is killed the other takes over.
func TestPrivilegedMesosDNS(t *testing.T) {
	netsim.Privileged(t, "dig", "curl", "etcd", "etcdctl")
	fixture := filepath.Join(fixtures.Dir(t, "mesos"), "master-state.json")
	f := netsim.NewFabric(t, "emdns")
	members, endpoints := startEtcd(t, f, 1)
	master := members[0].Node
	agent, err := f.AddNode("a1")
	if err != nil {
		t.Fatal(err)
	}
	mip, aip := master.UnderlayIP.String(), agent.UnderlayIP.String()
	fake := startFakeMesosMaster(t, master, fixture)
	masterAddr := net.JoinHostPort(mip, mesostest.Port)

	dir := t.TempDir()
	mlog, alog := filepath.Join(dir, "mesos-dns.log"), filepath.Join(dir, "agent-dns.log")
	mproc := netsim.StartProcessT(t, master, mlog, bin("dcnet-dns"), "--mode", "mesos-dns",
		"--mesos-master", "http://"+masterAddr, "--refresh", "30s", "--etcd-endpoints", endpoints,
		"--upstream", "127.0.0.1:5399", "--timeout", "1s")
	master2, err := f.AddNode("m2dns")
	if err != nil {
		t.Fatal(err)
	}
	m2log := filepath.Join(dir, "mesos-dns-2.log")
	m2proc := netsim.StartProcessT(t, master2, m2log, bin("dcnet-dns"), "--mode", "mesos-dns",
		"--mesos-master", "http://"+masterAddr, "--refresh", "30s", "--etcd-endpoints", endpoints,
		"--upstream", "127.0.0.1:5399", "--timeout", "1s")
	netsim.StartProcessT(t, agent, alog, bin("dcnet-dns"), "--listen", net.JoinHostPort(aip, "53"), "--node-ip", aip,
		"--spartan-link", "", "--etcd-endpoints", endpoints, "--mesos-dns", mip,
		"--cname", mesosDNSCNAME+"=leader.mesos", "--upstream", "127.0.0.1:5399", "--timeout", "1s")

	rs, tn := fake.expected(t, masterAddr)
	if got := addrStrings(rs, records.TypeA, "leader.mesos."); !slices.Equal(got, []string{mip}) {
		t.Fatalf("generator: leader.mesos. = %v, want %s (the fake master)", got, mip)
	}
	// Mesos-DNS on the master, asked from the agent.
	waitAnswer(t, agent, mip, "61053", "A", "leader.mesos", []string{mip}, mesosDNSWait, mlog)
	for _, name := range []string{"nginx.marathon.mesos.", "liquor-store.marathon.mesos.", "master0.mesos."} {
		want := addrStrings(rs, records.TypeA, name)
		if len(want) == 0 {
			t.Fatalf("generator: no A records for %s", name)
		}
		if got, err := digShort(agent, mip, "61053", "A", name); err != nil || !slices.Equal(got, want) {
			t.Errorf("mesos-dns A %s: %q (%v), want %q", name, got, err, want)
		}
	}
	if got, err := digShort(agent, mip, "61053", "SRV", "_leader._tcp.mesos"); err != nil || !slices.Equal(got, []string{"0 0 5050 leader.mesos."}) {
		t.Errorf("mesos-dns SRV _leader._tcp.mesos: %q (%v)", got, err)
	}
	var taskSRV string
	for name := range rs.SRV {
		if strings.HasSuffix(name, ".marathon.mesos.") && strings.HasPrefix(name, "_liquor-store._tcp") {
			taskSRV = name
		}
	}
	if taskSRV == "" {
		t.Fatal("generator: no SRV for liquor-store")
	}
	if got, err := digShort(agent, mip, "61053", "SRV", taskSRV); err != nil || len(got) != len(rs.SRV[taskSRV]) {
		t.Errorf("mesos-dns SRV %s: %q (%v), want %d records like %v", taskSRV, got, err, len(rs.SRV[taskSRV]), rs.SRV[taskSRV])
	}

	// Mesos-DNS's HTTP API.
	ctx, cancel := context.WithTimeout(context.Background(), dnsDigTimeout)
	defer cancel()
	out, err := agent.Run(ctx, "curl", "-sSf", "--max-time", "5", "http://"+net.JoinHostPort(mip, "8123")+"/v1/axfr")
	if err != nil {
		t.Fatalf("GET /v1/axfr: %v", err)
	}
	var axfr struct {
		Domain  string
		Records struct{ As, AAAAs, SRVs map[string][]string }
	}
	if err := json.Unmarshal([]byte(out), &axfr); err != nil {
		t.Fatalf("/v1/axfr: %v\n%s", err, out)
	}
	if axfr.Domain != "mesos" || !slices.Equal(axfr.Records.As["leader.mesos."], []string{mip}) ||
		len(axfr.Records.SRVs) != len(rs.SRV) || len(axfr.Records.As) != len(rs.A) {
		t.Errorf("/v1/axfr: domain %q, leader %v, %d As and %d SRVs; want mesos, [%s], %d and %d",
			axfr.Domain, axfr.Records.As["leader.mesos."], len(axfr.Records.As), len(axfr.Records.SRVs), mip, len(rs.A), len(rs.SRV))
	}

	// The agent: *.mesos forwarded, task names from etcd.
	waitAnswer(t, agent, aip, "53", "A", "leader.mesos", []string{mip}, mesosDNSWait, alog)
	// A configured CNAME, chased through Mesos-DNS.
	if got, err := digShort(agent, aip, "53", "A", mesosDNSCNAME); err != nil || !slices.Equal(got, []string{mip, "leader.mesos."}) {
		t.Errorf("dig %s: %q (%v), want the CNAME leader.mesos. and its address %s", mesosDNSCNAME, got, err, mip)
	}
	taskName := "nginx.marathon.containerip.dcos.thisdcos.directory."
	want := addrStrings(tn, records.TypeA, taskName)
	if len(want) == 0 {
		t.Fatalf("generator: no task name %s", taskName)
	}
	waitAnswer(t, agent, aip, "53", "A", taskName, want, mesosDNSWait, alog, mlog)

	// A new task appears on the agent within a few seconds.
	added := mesosDNSAddedTask + ".marathon.containerip.dcos.thisdcos.directory."
	if got, err := digShort(agent, aip, "53", "A", added); err != nil || len(got) != 0 {
		t.Fatalf("%s before the task exists: %q (%v)", added, got, err)
	}
	fake.addTask(t, mesosDNSAddedTask, mesosDNSAddedIP)
	_, tn = fake.expected(t, masterAddr)
	if got := addrStrings(tn, records.TypeA, added); !slices.Equal(got, []string{mesosDNSAddedIP}) {
		t.Fatalf("generator: %s = %v, want %s", added, got, mesosDNSAddedIP)
	}
	took := waitAnswer(t, agent, aip, "53", "A", added, []string{mesosDNSAddedIP}, mesosDNSChangeWait, alog, mlog)
	t.Logf("%s appeared on the agent %v after the state changed", added, took.Round(time.Millisecond))
	waitAnswer(t, agent, mip, "61053", "A", mesosDNSAddedTask+".marathon.mesos", []string{mesosDNSAddedIP}, mesosDNSChangeWait, mlog)

	// One publisher: exactly one of the two masters says it publishes.
	publishes := func(log string) bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "this master publishes them")
	}
	var killed *netsim.Process
	var other string
	switch p1, p2 := publishes(mlog), publishes(m2log); {
	case p1 && !p2:
		killed, other = mproc, m2log
	case p2 && !p1:
		killed, other = m2proc, mlog
	default:
		t.Fatalf("publishers: master 1 %t, master 2 %t; want exactly one\n%s\n%s", p1, p2, netsim.TailFile(mlog, 20), netsim.TailFile(m2log, 20))
	}
	// The publisher is killed (no resign): the other takes over once the
	// lease runs out and publishes the next change.
	if err := killed.Kill9(); err != nil {
		t.Fatal(err)
	}
	fake.addTask(t, mesosDNSTakeoverTask, mesosDNSTakeoverIP)
	taken := mesosDNSTakeoverTask + ".marathon.containerip.dcos.thisdcos.directory."
	took = waitAnswer(t, agent, aip, "53", "A", taken, []string{mesosDNSTakeoverIP}, mesosDNSTakeoverWait, alog, other)
	t.Logf("%s appeared on the agent %v after the publisher was killed and the state changed", taken, took.Round(time.Millisecond))
	if !publishes(other) {
		t.Errorf("the remaining master never logged that it publishes:\n%s", netsim.TailFile(other, 20))
	}
}
