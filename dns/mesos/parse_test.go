package mesos

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    State
		wantErr string
	}{
		{
			name: "minimal with unknown fields",
			doc: `{"leader":"master@10.0.0.1:5050","unknown":{"x":[1,2]},
				"slaves":[{"id":"a-S0","hostname":"h","pid":"slave(1)@10.0.0.2:5051","attributes":{"rack":"r1","n":3}}],
				"frameworks":[{"id":"f","name":"marathon","pid":"scheduler@10.0.0.1:1","tasks":[
					{"id":"t1","name":"web","slave_id":"a-S0","state":"TASK_RUNNING","resources":{"cpus":0.5,"ports":"[31000-31001]"},
					 "discovery":{"name":"web","ports":{"ports":[{"number":80,"name":"http","protocol":"tcp"}]}}}]}]}`,
			want: State{
				Leader: "master@10.0.0.1:5050",
				Agents: []Agent{{ID: "a-S0", Hostname: "h", PID: "slave(1)@10.0.0.2:5051"}},
				Frameworks: []Framework{{ID: "f", Name: "marathon", PID: "scheduler@10.0.0.1:1", Tasks: []Task{{
					ID: "t1", Name: "web", AgentID: "a-S0", State: TaskRunning,
					Resources: Resources{Ports: "[31000-31001]"},
					Discovery: &DiscoveryInfo{Name: "web", Ports: DiscoveryPorts{Ports: []DiscoveryPort{{Number: 80, Name: "http", Protocol: "tcp"}}}},
				}}}},
			},
		},
		{name: "empty object", doc: `{}`, want: State{}},
		{name: "empty input", doc: ``, wantErr: "parse mesos state: empty document"},
		{name: "truncated", doc: `{"leader":`, wantErr: "parse mesos state: truncated document"},
		{name: "syntax", doc: `{"leader" "x"}`, wantErr: "invalid JSON at offset 11"},
		{name: "wrong type", doc: `{"frameworks":{"a":1}}`, wantErr: `field "frameworks": got JSON object, want []mesos.Framework`},
		{name: "wrong nested type", doc: `{"frameworks":[{"tasks":[{"statuses":[{"timestamp":"x"}]}]}]}`, wantErr: `field "frameworks.tasks.statuses.timestamp"`},
		{name: "trailing data", doc: `{} {}`, wantErr: "unexpected { after document"},
		{name: "not an object", doc: `[]`, wantErr: "got JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseState(strings.NewReader(tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseState() error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseState() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseState() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePID(t *testing.T) {
	tests := []struct {
		in      string
		want    PID
		wantErr bool
	}{
		{in: "master@1.2.3.4:5050", want: PID{ID: "master", Host: "1.2.3.4", Port: 5050}},
		{in: "slave(1)@[2001:db8::1]:5051", want: PID{ID: "slave(1)", Host: "2001:db8::1", Port: 5051}},
		{in: "scheduler-x@host.example:25501", want: PID{ID: "scheduler-x", Host: "host.example", Port: 25501}},
		{in: "", wantErr: true},
		{in: "@1.2.3.4:1", wantErr: true},
		{in: "master@1.2.3.4", wantErr: true},
		{in: "master@:5050", wantErr: true},
		{in: "master@1.2.3.4:70000", wantErr: true},
		{in: "master@2001:db8::1:5050", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePID(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePID(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParsePID(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestPortList(t *testing.T) {
	tests := []struct {
		in      string
		want    []uint16
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "[]", want: nil},
		{in: "[31000-31001]", want: []uint16{31000, 31001}},
		{in: "[31354-31354, 31355-31355]", want: []uint16{31354, 31355}},
		{in: "[80]", want: []uint16{80}},
		{in: "[0-0]", want: []uint16{0}},
		{in: "31000-31001", wantErr: true},
		{in: "[2-1]", wantErr: true},
		{in: "[a-b]", wantErr: true},
		{in: "[1-65536]", wantErr: true},
		{in: "[1-2000]", wantErr: true}, // more than maxPortsPerTask
	}
	for _, tt := range tests {
		got, err := Resources{Ports: tt.in}.PortList()
		if (err != nil) != tt.wantErr {
			t.Errorf("PortList(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("PortList(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestTaskStatus(t *testing.T) {
	statuses := []Status{
		{State: TaskRunning, Timestamp: 3, Labels: []Label{{Key: DockerIPLabel, Value: "10.0.0.3"}}},
		{State: TaskRunning, Timestamp: 5, Labels: []Label{{Key: DockerIPLabel, Value: "10.0.0.5"}}},
		{State: "TASK_STARTING", Timestamp: 9},
		{State: TaskRunning, Timestamp: 4},
	}
	tests := []struct {
		name        string
		task        Task
		wantState   string
		wantLatest  []string
		wantRunning bool
	}{
		{"state field wins", Task{State: "TASK_KILLED", Statuses: statuses}, "TASK_KILLED", []string{"10.0.0.5"}, false},
		{"latest status by time", Task{Statuses: statuses}, "TASK_STARTING", []string{"10.0.0.5"}, false},
		{"running", Task{State: TaskRunning, Statuses: statuses[:2]}, TaskRunning, []string{"10.0.0.5"}, true},
		{"no statuses", Task{}, "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.task.CurrentState(); got != tt.wantState {
				t.Errorf("CurrentState() = %q, want %q", got, tt.wantState)
			}
			if got := tt.task.Running(); got != tt.wantRunning {
				t.Errorf("Running() = %v, want %v", got, tt.wantRunning)
			}
			s, _ := tt.task.LatestRunningStatus()
			if diff := cmp.Diff(tt.wantLatest, s.LabelValues(DockerIPLabel)); diff != "" {
				t.Errorf("latest running status labels mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNetworkIPs(t *testing.T) {
	s := Status{ContainerStatus: ContainerStatus{NetworkInfos: []NetworkInfo{
		{IPAddresses: []IPAddress{{IPAddress: "12.0.1.3"}}},
		{IPAddress: "9.9.9.9"}, // 0.25 form
		{IPAddresses: []IPAddress{{IPAddress: "12.0.1.2"}, {IPAddress: "fd01:b::2"}}, IPAddress: "ignored"},
	}}}
	want := []string{"12.0.1.3", "9.9.9.9", "12.0.1.2", "fd01:b::2"}
	if diff := cmp.Diff(want, s.NetworkIPs()); diff != "" {
		t.Errorf("NetworkIPs() mismatch (-want +got):\n%s", diff)
	}
}

func TestMapsHostPort(t *testing.T) {
	tests := []struct {
		name string
		task Task
		want bool
	}{
		{"no ports", Task{}, false},
		{"port resources", Task{Resources: Resources{Ports: "[31000-31000]"}}, true},
		{"docker mapping", Task{Container: &ContainerInfo{Docker: &DockerInfo{PortMappings: []PortMapping{{HostPort: 31000, ContainerPort: 80}}}}}, true},
		{"docker mapping without host port", Task{Container: &ContainerInfo{Docker: &DockerInfo{PortMappings: []PortMapping{{ContainerPort: 80}}}}}, false},
		{"netinfo mapping", Task{Container: &ContainerInfo{NetworkInfos: []NetworkInfo{{PortMappings: []PortMapping{{HostPort: 1, ContainerPort: 80}}}}}}, true},
	}
	for _, tt := range tests {
		if got := tt.task.MapsHostPort(); got != tt.want {
			t.Errorf("%s: MapsHostPort() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
