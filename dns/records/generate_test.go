package records

import (
	"net/netip"
	"testing"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/google/go-cmp/cmp"
)

const (
	testAgentID = "b1e5-4c2a-S3"
	testTaskID  = "web.1234"
)

// testState is a small cluster: one agent (10.0.0.2, -S3), a marathon
// framework with a running task "My_Web.app" carrying every IP source, a
// task with DiscoveryInfo, a killed task and a task on an unknown agent.
func testState() mesos.State {
	running := mesos.Status{
		State: mesos.TaskRunning, Timestamp: 2,
		Labels: []mesos.Label{
			{Key: mesos.DockerIPLabel, Value: "172.17.0.9"},
			{Key: mesos.MesosIPLabel, Value: "10.8.0.9"},
		},
		ContainerStatus: mesos.ContainerStatus{NetworkInfos: []mesos.NetworkInfo{{
			IPAddresses: []mesos.IPAddress{{IPAddress: "9.0.0.9"}, {IPAddress: "fd01:b::9"}},
		}}},
	}
	older := mesos.Status{State: mesos.TaskRunning, Timestamp: 1, Labels: []mesos.Label{{Key: mesos.DockerIPLabel, Value: "172.17.0.1"}}}
	return mesos.State{
		Leader: "master@10.0.0.1:5050",
		Agents: []mesos.Agent{{ID: testAgentID, Hostname: "agent-1", PID: "slave(1)@10.0.0.2:5051"}},
		Frameworks: []mesos.Framework{{
			Name: "Marathon", PID: "scheduler-1@10.0.0.1:15101",
			Tasks: []mesos.Task{
				{ID: testTaskID, Name: "My_Web.app", AgentID: testAgentID, State: mesos.TaskRunning,
					Statuses: []mesos.Status{older, running}, Resources: mesos.Resources{Ports: "[31000-31001]"}},
				{ID: "db.1", Name: "db-task", AgentID: testAgentID, State: mesos.TaskRunning,
					Statuses:  []mesos.Status{{State: mesos.TaskRunning, Timestamp: 1}},
					Resources: mesos.Resources{Ports: "[31002-31002]"},
					Discovery: &mesos.DiscoveryInfo{Name: "db", Ports: mesos.DiscoveryPorts{Ports: []mesos.DiscoveryPort{
						{Number: 5432, Name: "pg", Protocol: "tcp"},
						{Number: 53, Name: "", Protocol: ""},
					}}}},
				{ID: "gone.1", Name: "gone", AgentID: testAgentID, State: "TASK_KILLED",
					Statuses: []mesos.Status{{State: mesos.TaskRunning, Timestamp: 1}}},
				{ID: "lost.1", Name: "lost", AgentID: "unknown-S9", State: mesos.TaskRunning},
			},
		}},
	}
}

func generate(t *testing.T, st mesos.State, cfg Config) RecordSet {
	t.Helper()
	rs, err := Generate(st, cfg)
	if err != nil {
		t.Fatalf("Generate() error = %v", err)
	}
	return rs
}

func TestGenerateNames(t *testing.T) {
	rs := generate(t, testState(), Config{IPSources: []string{SourceDocker, SourceHost}})
	web := "my-web-app-" + taskHash(testTaskID) + "-s3"
	db := "db-" + taskHash("db.1") + "-s3"
	wantA := map[string][]string{
		"leader.mesos.":                    {"10.0.0.1"},
		"master.mesos.":                    {"10.0.0.1"},
		"master0.mesos.":                   {"10.0.0.1"},
		"slave.mesos.":                     {"10.0.0.2"},
		"marathon.mesos.":                  {"10.0.0.1"},
		"my-web-app.marathon.mesos.":       {"172.17.0.9"}, // latest running status only
		web + ".marathon.mesos.":           {"172.17.0.9"},
		"my-web-app.marathon.slave.mesos.": {"10.0.0.2"},
		web + ".marathon.slave.mesos.":     {"10.0.0.2"},
		"db.marathon.mesos.":               {"10.0.0.2"}, // no docker IP: host
		db + ".marathon.mesos.":            {"10.0.0.2"},
		"db.marathon.slave.mesos.":         {"10.0.0.2"},
		db + ".marathon.slave.mesos.":      {"10.0.0.2"},
	}
	if diff := cmp.Diff(wantA, rs.Strings(TypeA)); diff != "" {
		t.Errorf("A records mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{}, rs.Strings(TypeAAAA)); diff != "" {
		t.Errorf("AAAA records mismatch (-want +got):\n%s", diff)
	}
	wantSRV := map[string][]string{
		"_leader._tcp.mesos.":             {"leader.mesos.:5050"},
		"_leader._udp.mesos.":             {"leader.mesos.:5050"},
		"_slave._tcp.mesos.":              {"slave.mesos.:5051"},
		"_framework._tcp.marathon.mesos.": {"marathon.mesos.:15101"},
		// Port resources of a task without DiscoveryInfo: both protocols,
		// with and without .slave, all targeting the .slave name.
		"_my-web-app._tcp.marathon.mesos.":       {web + ".marathon.slave.mesos.:31000", web + ".marathon.slave.mesos.:31001"},
		"_my-web-app._udp.marathon.mesos.":       {web + ".marathon.slave.mesos.:31000", web + ".marathon.slave.mesos.:31001"},
		"_my-web-app._tcp.marathon.slave.mesos.": {web + ".marathon.slave.mesos.:31000", web + ".marathon.slave.mesos.:31001"},
		"_my-web-app._udp.marathon.slave.mesos.": {web + ".marathon.slave.mesos.:31000", web + ".marathon.slave.mesos.:31001"},
		// DiscoveryInfo task: port resources only under .slave ...
		"_db._tcp.marathon.slave.mesos.": {db + ".marathon.slave.mesos.:31002"},
		"_db._udp.marathon.slave.mesos.": {db + ".marathon.slave.mesos.:31002"},
		// ... and discovery ports target the task name; no protocol means
		// both; a named port adds _<name>.
		"_db._tcp.marathon.mesos.":     {db + ".marathon.mesos.:53", db + ".marathon.mesos.:5432"},
		"_db._udp.marathon.mesos.":     {db + ".marathon.mesos.:53"},
		"_pg._db._tcp.marathon.mesos.": {db + ".marathon.mesos.:5432"},
	}
	if diff := cmp.Diff(wantSRV, rs.Strings(TypeSRV)); diff != "" {
		t.Errorf("SRV records mismatch (-want +got):\n%s", diff)
	}
	wantWarnings := []string{`task "lost.1": agent "unknown-S9" is not registered`}
	if diff := cmp.Diff(wantWarnings, rs.Warnings); diff != "" {
		t.Errorf("warnings mismatch (-want +got):\n%s", diff)
	}
}

func TestGenerateIPSources(t *testing.T) {
	name := "my-web-app.marathon.mesos."
	tests := []struct {
		sources  []string
		wantA    []string
		wantAAAA []string
	}{
		{sources: nil, wantA: []string{"9.0.0.9"}, wantAAAA: []string{"fd01:b::9"}}, // default netinfo, mesos, host
		{sources: []string{SourceNetinfo}, wantA: []string{"9.0.0.9"}, wantAAAA: []string{"fd01:b::9"}},
		// Only the first source that has addresses counts, with all of them
		// (Mesos-DNS e888ef4): no IPv6 from a later source.
		{sources: []string{SourceMesos, SourceNetinfo}, wantA: []string{"10.8.0.9"}},
		{sources: []string{SourceDocker, SourceMesos}, wantA: []string{"172.17.0.9"}},
		{sources: []string{SourceHost, SourceNetinfo}, wantA: []string{"10.0.0.2"}},
		{sources: []string{SourceHost}, wantA: []string{"10.0.0.2"}},
	}
	for _, tt := range tests {
		rs := generate(t, testState(), Config{IPSources: tt.sources})
		if diff := cmp.Diff(tt.wantA, rs.Strings(TypeA)[name]); diff != "" {
			t.Errorf("sources %v: A mismatch (-want +got):\n%s", tt.sources, diff)
		}
		if diff := cmp.Diff(tt.wantAAAA, rs.Strings(TypeAAAA)[name]); diff != "" {
			t.Errorf("sources %v: AAAA mismatch (-want +got):\n%s", tt.sources, diff)
		}
	}
}

func TestGenerateRFC952(t *testing.T) {
	st := testState()
	st.Frameworks[0].Name = "chronos-2.0.1"
	st.Frameworks[0].Tasks = st.Frameworks[0].Tasks[:1]
	st.Frameworks[0].Tasks[0].Name = "0123-a-very-long-task-name-that-is-cut"
	tests := []struct {
		spec bool
		want string
	}{
		{false, "0123-a-very-long-task-name-that-is-cut.chronos-2.0.1.mesos."},
		{true, "a-very-long-task-name-th.chronos-2.mesos."},
	}
	for _, tt := range tests {
		rs := generate(t, st, Config{EnforceRFC952: tt.spec, IPSources: []string{SourceHost}})
		if got, ok := rs.Lookup(tt.want, TypeA); !ok || len(got) != 1 {
			t.Errorf("EnforceRFC952=%v: %s missing; names %v", tt.spec, tt.want, rs.Names())
		}
	}
}

func TestLookup(t *testing.T) {
	rs := generate(t, testState(), Config{SOAMname: "ns1.mesos", Listeners: []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("fd01:a::1")}})
	tests := []struct {
		name       string
		qtype      Type
		want       []Record
		wantExists bool
	}{
		{"LEADER.Mesos", TypeA, []Record{{Name: "leader.mesos.", Type: TypeA, Addr: netip.MustParseAddr("10.0.0.1")}}, true},
		{"leader.mesos.", TypeAAAA, nil, true},
		{"leader.mesos.", Type(16), nil, true},
		{"nothing.mesos.", TypeA, nil, false},
		{"_leader._tcp.mesos", TypeSRV, []Record{{Name: "_leader._tcp.mesos.", Type: TypeSRV, SRV: SRV{Target: "leader.mesos.", Port: 5050}}}, true},
		{"ns1.mesos.", TypeAAAA, []Record{{Name: "ns1.mesos.", Type: TypeAAAA, Addr: netip.MustParseAddr("fd01:a::1")}}, true},
	}
	for _, tt := range tests {
		got, exists := rs.Lookup(tt.name, tt.qtype)
		if exists != tt.wantExists {
			t.Errorf("Lookup(%q, %v) exists = %v, want %v", tt.name, tt.qtype, exists, tt.wantExists)
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("Lookup(%q, %v) mismatch (-want +got):\n%s", tt.name, tt.qtype, diff)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	first := generate(t, testState(), Config{})
	for range 20 {
		again := generate(t, testState(), Config{})
		if diff := cmp.Diff(first, again, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("Generate not deterministic (-first +again):\n%s", diff)
		}
	}
	if first.Len() == 0 || len(first.Names()) == 0 {
		t.Fatal("no records")
	}
}
