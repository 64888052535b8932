package records

import (
	"testing"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/google/go-cmp/cmp"
)

func TestTaskNames(t *testing.T) {
	const agent = "a-S0"
	netinfo := func(ips ...string) []mesos.Status {
		var addrs []mesos.IPAddress
		for _, ip := range ips {
			addrs = append(addrs, mesos.IPAddress{IPAddress: ip})
		}
		return []mesos.Status{{State: mesos.TaskRunning, Timestamp: 1, ContainerStatus: mesos.ContainerStatus{
			NetworkInfos: []mesos.NetworkInfo{{IPAddresses: addrs}}}}}
	}
	st := mesos.State{
		Leader: "master@10.0.0.1:5050",
		Agents: []mesos.Agent{{ID: agent, PID: "slave(1)@10.0.0.2:5051"}},
		Frameworks: []mesos.Framework{{Name: "marathon", Tasks: []mesos.Task{
			// Bridge task mapping a host port: autoip is the agent.
			{ID: "bridge.1", Name: "bridge", AgentID: agent, State: mesos.TaskRunning, Statuses: netinfo("172.17.0.3"),
				Container: &mesos.ContainerInfo{Docker: &mesos.DockerInfo{Network: "BRIDGE", PortMappings: []mesos.PortMapping{{HostPort: 31000, ContainerPort: 80}}}}},
			// Overlay task without host ports: autoip is the container.
			{ID: "overlay.1", Name: "overlay", AgentID: agent, State: mesos.TaskRunning, Statuses: netinfo("9.0.0.3", "fd01:b::3")},
			// Host-network task without ports or container IP: the agent.
			{ID: "host.1", Name: "Host_App", AgentID: agent, State: mesos.TaskRunning, Statuses: netinfo()},
			{ID: "dead.1", Name: "dead", AgentID: agent, State: "TASK_FAILED", Statuses: netinfo("9.0.0.4")},
		}}},
	}
	rs, err := TaskNames(st, Config{})
	if err != nil {
		t.Fatal(err)
	}
	wantA := map[string][]string{
		"bridge.marathon.agentip.dcos.thisdcos.directory.":      {"10.0.0.2"},
		"bridge.marathon.containerip.dcos.thisdcos.directory.":  {"172.17.0.3"},
		"bridge.marathon.autoip.dcos.thisdcos.directory.":       {"10.0.0.2"},
		"overlay.marathon.agentip.dcos.thisdcos.directory.":     {"10.0.0.2"},
		"overlay.marathon.containerip.dcos.thisdcos.directory.": {"9.0.0.3"},
		"overlay.marathon.autoip.dcos.thisdcos.directory.":      {"9.0.0.3"},
		"host-app.marathon.agentip.dcos.thisdcos.directory.":    {"10.0.0.2"},
		"host-app.marathon.autoip.dcos.thisdcos.directory.":     {"10.0.0.2"},
	}
	wantAAAA := map[string][]string{
		"overlay.marathon.containerip.dcos.thisdcos.directory.": {"fd01:b::3"},
		"overlay.marathon.autoip.dcos.thisdcos.directory.":      {"fd01:b::3"},
	}
	if diff := cmp.Diff(wantA, rs.Strings(TypeA)); diff != "" {
		t.Errorf("A mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAAAA, rs.Strings(TypeAAAA)); diff != "" {
		t.Errorf("AAAA mismatch (-want +got):\n%s", diff)
	}
	if len(rs.SRV) != 0 {
		t.Errorf("unexpected SRV records: %v", rs.SRV)
	}
}

func TestTaskNamesFixture(t *testing.T) {
	rs, err := TaskNames(fixtureState(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ  Type
		name string
		want []string
	}{
		// Port resources: autoip is the agent.
		{TypeA, "liquor-store.marathon.autoip.dcos.thisdcos.directory.", []string{"1.2.3.11", "1.2.3.12"}},
		{TypeA, "liquor-store.marathon.containerip.dcos.thisdcos.directory.", []string{"10.3.0.1", "10.3.0.2"}},
		// nginx has no ports ("[]") and a Mesos containerizer IP.
		{TypeA, "nginx.marathon.autoip.dcos.thisdcos.directory.", []string{"10.3.0.3"}},
		{TypeA, "nginx.marathon.agentip.dcos.thisdcos.directory.", []string{"1.2.3.11"}},
		{TypeA, "toy-store.ipv6-framework.containerip.dcos.thisdcos.directory.", []string{"12.0.1.2", "12.0.1.3"}},
		{TypeAAAA, "toy-store.ipv6-framework.containerip.dcos.thisdcos.directory.", []string{"fd01:b::1:8000:2"}},
		{TypeAAAA, "toy-store.ipv6-framework.agentip.dcos.thisdcos.directory.", []string{"2001:db8::1"}},
		// RFC 1123 keeps the framework's dotted version.
		{TypeA, "some-box.chronoswithaspaceandmixedcase-2.0.1.agentip.dcos.thisdcos.directory.", []string{"1.2.3.11"}},
		{TypeA, "poseidon.marathon.agentip.dcos.thisdcos.directory.", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, rs.Strings(tt.typ)[tt.name]); diff != "" {
			t.Errorf("%v %s mismatch (-want +got):\n%s", tt.typ, tt.name, diff)
		}
	}
}
