package mesos

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/internal/fixtures"

	"github.com/google/go-cmp/cmp"
)

// localAgent is the agentIP argument of the tests: the IP used when an
// agent's hostname is not an address.
var localAgent = netip.MustParseAddr("10.9.9.9")

// fixtureDir returns the fixtures directory, skipping t when it is absent.
func fixtureDir(t testing.TB) string { return fixtures.Dir(t, "mesos", "operator-api") }

// loadFixture decodes a GET_STATE answer or replays an event stream.
func loadFixture(t testing.TB, name string) *GetState {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var st *GetState
	if bytes.HasPrefix(data, []byte(`{"type":"GET_STATE"`)) {
		st, err = Decode(data)
	} else {
		st, err = Replay(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return st
}

// bindingLines renders the backends of a fixture one per line.
func bindingLines(t *testing.T, st *GetState) []string {
	t.Helper()
	bs, err := Backends(st, localAgent, nil)
	if err != nil {
		t.Fatalf("Backends: %v", err)
	}
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%s %s -> %s healthy=%v draining=%v", b.VIP.Key(), b.VIP, b.Backend.AddrPort(), b.Backend.Healthy, b.Backend.Draining))
	}
	return out
}

// summaryLines renders what was read from each task.
func summaryLines(t *testing.T, st *GetState) []string {
	t.Helper()
	sums, errs := Summaries(st, localAgent)
	if len(errs) > 0 {
		t.Fatalf("Summaries: %v", errs)
	}
	var out []string
	for _, s := range sums {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s %d host %d %v", p.Protocol, p.Port, p.HostPort, p.VIPs))
		}
		name, _, _ := strings.Cut(s.TaskID, ".")
		out = append(out, fmt.Sprintf("%s %s %s agent=%s ips=%v healthy=%v ports=%v", name, s.Framework, s.State, s.AgentIP, s.TaskIPs, s.Healthy, ports))
	}
	return out
}

// The expectations below are those of dcos-net's own tests of the same
// files (apps/dcos_net/test/dcos_net_mesos_listener_tests.erl and
// apps/dcos_l4lb/test/dcos_l4lb_mesos_tests.erl), except where noted.

func TestFixtureVIPLabels(t *testing.T) {
	// dcos_l4lb_mesos_tests:vip_labels: port labels VIP_0, VIP_1, VIP_2 and
	// task labels vip_port0, vip_port1 (pointing at port resources 9999
	// and 10000) on a host-networked task.
	want := []string{
		"tcp://abc.marathon.l4lb.thisdcos.directory:80 tcp:///abc@marathon:80 -> 172.17.0.3:9999 healthy=true draining=false",
		"tcp://cbd.marathon.l4lb.thisdcos.directory:80 tcp:///cbd@marathon:80 -> 172.17.0.3:9999 healthy=true draining=false",
		"tcp://xyz.marathon.l4lb.thisdcos.directory:443 tcp:///xyz@marathon:443 -> 172.17.0.3:10001 healthy=true draining=false",
		"tcp://def.marathon.l4lb.thisdcos.directory:80 tcp://def@marathon:80 -> 172.17.0.3:9999 healthy=true draining=false",
		"tcp://jkl.marathon.l4lb.thisdcos.directory:80 tcp://jkl@marathon:80 -> 172.17.0.3:10000 healthy=true draining=false",
	}
	if diff := cmp.Diff(want, bindingLines(t, loadFixture(t, "vip-labels.json"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFixtureTCPAndUDP(t *testing.T) {
	// dcos_l4lb_mesos_tests:tcp_udp: one VIP label on the tcp and the udp
	// discovery port 6416 gives two VIPs.
	want := []string{
		"tcp://app.marathon.l4lb.thisdcos.directory:80 tcp:///app@marathon:80 -> 172.17.0.3:6416 healthy=true draining=false",
		"udp://app.marathon.l4lb.thisdcos.directory:80 udp:///app@marathon:80 -> 172.17.0.3:6416 healthy=true draining=false",
	}
	if diff := cmp.Diff(want, bindingLines(t, loadFixture(t, "tcp-and-udp.json"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFixtureUnhealthy(t *testing.T) {
	// dcos_net_mesos_listener_tests:unhealthy: a health check without a
	// healthy status is unhealthy. dcos-net dropped the backend; dcnet
	// keeps it with Healthy=false so that it drains.
	want := []string{
		"tcp://foobar.marathon.l4lb.thisdcos.directory:80 tcp:///foobar@marathon:80 -> 9.0.1.6:80 healthy=false draining=false",
	}
	if diff := cmp.Diff(want, bindingLines(t, loadFixture(t, "unhealthy.json"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFixtureDNSHostname(t *testing.T) {
	// dcos_net_mesos_listener_tests:dns_hostname: the agent is named
	// "localhost". dcos-net resolved it (127.0.0.1); dcnet does no DNS in
	// pure code and uses the agentIP argument. No VIPs.
	st := loadFixture(t, "dns-hostname.json")
	want := []string{"test marathon TASK_RUNNING agent=10.9.9.9 ips=[127.0.0.1] healthy=true ports=[]"}
	if diff := cmp.Diff(want, summaryLines(t, st)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := bindingLines(t, st); len(got) != 0 {
		t.Errorf("bindings %v, want none", got)
	}
	if sums, _ := Summaries(st, netip.Addr{}); len(sums) != 0 {
		t.Errorf("without an agent IP the task has no agent address and must be skipped, got %v", sums)
	}
}

func TestFixtureOperatorAPI(t *testing.T) {
	// dcos_net_mesos_listener_tests:basic: every runtime and network mode;
	// no VIP labels, so no bindings. Bridge modes keep host port and
	// container port, overlay modes the container IP, host modes the
	// agent IP.
	st := loadFixture(t, "operator-api.json")
	want := []string{
		"docker-on-bridge marathon TASK_RUNNING agent=172.17.0.4 ips=[172.18.0.2] healthy=true ports=[tcp 8080 host 20560 []]",
		"docker-on-dcos marathon TASK_RUNNING agent=172.17.0.4 ips=[9.0.2.130] healthy=true ports=[tcp 8080 host 0 []]",
		"docker-on-host marathon TASK_RUNNING agent=172.17.0.4 ips=[172.17.0.4] healthy=true ports=[tcp 31168 host 0 []]",
		"none-on-dcos marathon TASK_RUNNING agent=172.17.0.4 ips=[9.0.2.5] healthy=true ports=[]",
		"none-on-host marathon TASK_RUNNING agent=172.17.0.4 ips=[172.17.0.4] healthy=true ports=[tcp 13977 host 0 []]",
		"ucr-on-dcos marathon TASK_RUNNING agent=172.17.0.3 ips=[9.0.1.6] healthy=true ports=[]",
		"ucr-on-bridge marathon TASK_RUNNING agent=172.17.0.3 ips=[172.31.254.3] healthy=true ports=[tcp 8080 host 15263 []]",
		"ucr-on-host marathon TASK_RUNNING agent=172.17.0.3 ips=[172.17.0.3] healthy=true ports=[tcp 10323 host 0 []]",
		"docker-on-ipv6 marathon TASK_RUNNING agent=172.17.0.4 ips=[172.19.0.2 fd01:b::2:8000:0:2] healthy=true ports=[tcp 8080 host 0 []]",
		"pod-on-host marathon TASK_RUNNING agent=172.17.0.4 ips=[172.17.0.4] healthy=true ports=[tcp 28064 host 0 []]",
		"pod-on-dcos marathon TASK_RUNNING agent=172.17.0.3 ips=[9.0.1.3] healthy=true ports=[tcp 8080 host 0 []]",
		"pod-on-bridge marathon TASK_RUNNING agent=172.17.0.3 ips=[172.31.254.4] healthy=true ports=[tcp 8080 host 2254 []]",
	}
	if diff := cmp.Diff(want, summaryLines(t, st)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := bindingLines(t, st); len(got) != 0 {
		t.Errorf("bindings %v, want none", got)
	}
}

func TestFixtureHelloOverlay(t *testing.T) {
	// dcos_net_mesos_listener_tests:hello_overlay_*: a host task with a
	// VIP, an overlay task with a VIP (container IP) and a host-networked
	// task of another framework (agent IP).
	want := []string{
		"tcp://api.hello-world.marathon.l4lb.thisdcos.directory:80 tcp:///api.hello-world@marathon:80 -> 10.0.0.49:19630 healthy=true draining=false",
		"tcp://host-vip.hello-world.l4lb.thisdcos.directory:80 tcp://host-vip@hello-world:80 -> 10.0.0.49:4044 healthy=true draining=false",
		"tcp://overlay-vip.hello-world.l4lb.thisdcos.directory:80 tcp://overlay-vip@hello-world:80 -> 9.0.2.3:4044 healthy=true draining=false",
	}
	if diff := cmp.Diff(want, bindingLines(t, loadFixture(t, "hello-overlay.json"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFixtureHelloWorld(t *testing.T) {
	// dcos_net_mesos_listener_tests:hello_world: every task ends killed,
	// and the framework is removed: nothing to balance.
	if got := bindingLines(t, loadFixture(t, "hello-world.json")); len(got) != 0 {
		t.Errorf("bindings %v, want none", got)
	}
}

func TestFixturePodTasks(t *testing.T) {
	// dcos_net_mesos_listener_tests:pod_tasks: of the two pod tasks only
	// foo runs (overlay IP 9.0.0.2, no ports); bar finished.
	st := loadFixture(t, "pod-tasks.json")
	want := []string{
		"app marathon TASK_RUNNING agent=172.17.0.3 ips=[9.0.0.2] healthy=true ports=[]",
		"app marathon TASK_FINISHED agent=172.17.0.3 ips=[] healthy=true ports=[]",
	}
	if diff := cmp.Diff(want, summaryLines(t, st)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := bindingLines(t, st); len(got) != 0 {
		t.Errorf("bindings %v, want none", got)
	}
}

func TestFixtureRecoveredAgents(t *testing.T) {
	// No dcos-net assertion on this file; dcnet's reading: the first
	// instance failed, the second runs on the UCR bridge with host port
	// 16424 on the recovered, then re-added, agent 172.17.0.4.
	want := []string{
		"tcp://web.marathon.l4lb.thisdcos.directory:10080 tcp:///web@marathon:10080 -> 172.17.0.4:16424 healthy=true draining=false",
	}
	if diff := cmp.Diff(want, bindingLines(t, loadFixture(t, "recovered-agents.json"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
