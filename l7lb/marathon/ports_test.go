package marathon

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func loadApps(t *testing.T) map[string]*App {
	t.Helper()
	data, err := os.ReadFile("testdata/apps.json")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := DecodeApps(data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*App{}
	for i := range apps {
		out[apps[i].ID] = &apps[i]
	}
	return out
}

func TestPorts(t *testing.T) {
	apps := loadApps(t)
	tests := []struct {
		app          string
		mode         string
		service      []int
		names        []string
		taskPorts    []int
		taskIP       string
		checkForPort map[int]string
	}{
		{app: "/pywebserver", mode: ModeContainerBridge, service: []int{10101}, names: []string{"web"},
			taskPorts: []int{1565}, taskIP: "10.0.2.148", checkForPort: map[int]string{0: "MESOS_HTTP", 1: ""}},
		{app: "/group/api", mode: ModeHost, service: []int{10000, 10001}, names: []string{"http", "admin"},
			taskPorts: []int{31001, 31002}, taskIP: "10.0.2.150", checkForPort: map[int]string{0: "", 1: "TCP"}},
		{app: "/overlay-web", mode: ModeContainer, service: nil, names: []string{"http"},
			taskPorts: []int{8080}, taskIP: "9.0.1.7"},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			a := apps[tt.app]
			for i := range a.Tasks {
				a.Tasks[i].HostIP = hostLiteral(a.Tasks[i].Host)
			}
			if got := NetworkingMode(a); got != tt.mode {
				t.Errorf("mode %q, want %q", got, tt.mode)
			}
			if diff := cmp.Diff(tt.service, DeclaredServicePorts(a)); diff != "" {
				t.Errorf("service ports (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.names, PortNames(a)); diff != "" {
				t.Errorf("port names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.taskPorts, TaskPorts(a, &a.Tasks[0])); diff != "" {
				t.Errorf("task ports (-want +got):\n%s", diff)
			}
			if got := TaskIP(a, &a.Tasks[0]).String(); got != tt.taskIP {
				t.Errorf("task IP %s, want %s", got, tt.taskIP)
			}
			for i, proto := range tt.checkForPort {
				hc := HealthCheckFor(a, i)
				if (hc == nil) != (proto == "") || (hc != nil && hc.Protocol != proto) {
					t.Errorf("health check of port %d = %+v, want %q", i, hc, proto)
				}
			}
		})
	}
}

func TestPortAssigner(t *testing.T) {
	apps := loadApps(t)
	a := apps["/overlay-web"]
	p := NewPortAssigner(DefaultMinAssignedPort, DefaultMaxAssignedPort)
	first := p.ServicePorts(a)
	if len(first) != 1 || first[0] < DefaultMinAssignedPort || first[0] > DefaultMaxAssignedPort {
		t.Fatalf("assigned %v", first)
	}
	// Deterministic: another balancer gets the same port.
	if again := NewPortAssigner(DefaultMinAssignedPort, DefaultMaxAssignedPort).ServicePorts(a); again[0] != first[0] {
		t.Errorf("second assigner gave %v, first %v", again, first)
	}
	// A reserved port is never assigned; the range is used to its end,
	// then a port cannot be assigned (0).
	q := NewPortAssigner(10050, 10051)
	q.Reserve(10050)
	b := *a
	b.ID = "/other"
	if got := q.ServicePorts(a); !cmp.Equal(got, []int{10051}) {
		t.Errorf("with 10050 reserved: %v, want [10051]", got)
	}
	if got := q.ServicePorts(&b); !cmp.Equal(got, []int{0}) {
		t.Errorf("range exhausted: %v, want [0]", got)
	}
	// Declared ports win.
	if ps := p.ServicePorts(apps["/group/api"]); !cmp.Equal(ps, []int{10000, 10001}) {
		t.Errorf("declared ports %v", ps)
	}
}

func TestDecodeAppsRejects(t *testing.T) {
	for _, doc := range []string{`{}`, `{"apps":[{"tasks":[]}]}`, `<html>`, `{"apps": {"id": "/x"}}`} {
		if _, err := DecodeApps([]byte(doc)); err == nil {
			t.Errorf("DecodeApps(%s) accepted", doc)
		} else if strings.Contains(doc, "tasks") && !strings.Contains(err.Error(), "no id") {
			t.Errorf("DecodeApps(%s): %v", doc, err)
		}
	}
}
