// Package marathontest is a fake Marathon for tests and benchmarks, over
// real HTTP and server-sent events: GET /v2/apps?embed=apps.tasks, GET
// /v2/apps/{id}?embed=app.tasks and GET /v2/events (with the event_type
// filter and a heartbeat line), answering payloads shaped like a real
// Marathon 1.5's (mesosphere/marathon-lb tests/marathon15_apps.json,
// mesosphere/marathon's events.txt): apps with their container, port
// mappings or definitions, labels, health checks and tasks; status
// updates with host, ports and ipAddresses.
//
// Apps are put and scaled; every change emits the events a Marathon
// would (api_post_event, status_update_event TASK_RUNNING, TASK_KILLING
// then TASK_KILLED, health_status_changed_event, app_terminated_event).
// It can fail the ways Marathons fail: Stall (accept, never answer),
// Garbage (an answer that is not JSON), SilenceStreams (a stream that
// stays open and sends nothing), SendGarbage (a stream line that is not
// an event).
package marathontest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Networking modes of an AppSpec.
const (
	Host      = "host"             // agent IP, task host ports (portDefinitions)
	Bridge    = "container/bridge" // agent IP, host ports mapped to container ports
	Container = "container"        // IP per task, container ports
)

// Failure modes of the apps endpoints.
const (
	Normal  = iota
	Stall   // accept the request, never answer (until Close)
	Garbage // answer 200 with a body that is not JSON
)

// DefaultHeartbeat is the stream's heartbeat period.
const DefaultHeartbeat = 10 * time.Second

// AppSpec describes an app to serve.
type AppSpec struct {
	ID     string
	Labels map[string]string
	// Mode is Host (default), Bridge or Container.
	Mode string
	// ServicePorts, ContainerPorts and PortNames are per port index;
	// ContainerPorts default to 8080+i, a missing service port is
	// absent from the answer (IP-per-task apps often have none).
	ServicePorts   []int
	ContainerPorts []int
	PortNames      []string
	HealthChecks   []HealthCheck
	Instances      int
	// TaskPorts, when set, are the host ports of every task (Host and
	// Bridge modes), so that tasks can be real servers on their hosts;
	// otherwise each task gets ports of its own from 31000.
	TaskPorts []int
}

// HealthCheck is a Marathon health check of an AppSpec.
type HealthCheck struct {
	Protocol               string
	Path                   string
	PortIndex              int
	IntervalSeconds        int
	TimeoutSeconds         int
	MaxConsecutiveFailures int
}

// Marathon is the fake; Close stops it.
type Marathon struct {
	// URL is http://<address>.
	URL string
	srv *http.Server
	ln  net.Listener

	// Hosts are the agents tasks are placed on, round robin.
	Hosts []string
	// Heartbeat is the streams' heartbeat period (DefaultHeartbeat).
	Heartbeat time.Duration

	mu       sync.Mutex
	apps     map[string]*app
	raw      []byte // served instead of apps when set (LoadApps)
	mode     int
	silent   bool
	next     int
	subs     map[*subscriber]bool
	closed   chan struct{}
	requests map[string]int
}

type app struct {
	spec  AppSpec
	tasks []*task
	ver   string
}

type task struct {
	id, host  string
	ports     []int
	ip        string
	state     string
	alive     *bool
	container []int
}

// Start serves on addr ("127.0.0.1:0" for a free loopback port).
func Start(addr string) (*Marathon, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake marathon on %s: %w", addr, err)
	}
	return Serve(ln), nil
}

// Serve serves on ln (a listener opened in a namespace, for example).
func Serve(ln net.Listener) *Marathon {
	m := &Marathon{URL: "http://" + ln.Addr().String(), ln: ln, Hosts: []string{"10.0.2.148", "10.0.2.149", "10.0.2.150"},
		Heartbeat: DefaultHeartbeat, apps: map[string]*app{}, subs: map[*subscriber]bool{},
		closed: make(chan struct{}), requests: map[string]int{}}
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}
	go m.srv.Serve(ln)
	return m
}

// Close stops the server, ends streams and releases stalled requests.
func (m *Marathon) Close() error {
	m.mu.Lock()
	select {
	case <-m.closed:
	default:
		close(m.closed)
	}
	m.mu.Unlock()
	return m.srv.Close()
}

// SetMode sets the failure mode of the apps endpoints (Normal, Stall,
// Garbage); streams are not affected.
func (m *Marathon) SetMode(mode int) {
	m.mu.Lock()
	m.mode = mode
	m.mu.Unlock()
}

// SilenceStreams makes the streams send nothing at all, not even
// heartbeats (events are dropped), until called with false.
func (m *Marathon) SilenceStreams(on bool) {
	m.mu.Lock()
	m.silent = on
	m.mu.Unlock()
}

// SendGarbage writes a line that is not an event to every stream.
func (m *Marathon) SendGarbage() { m.broadcast("", "data: {this is not json\n\n") }

// Requests counts the requests served by kind: "apps", "app", "events".
func (m *Marathon) Requests(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[kind]
}

// Streams counts the open event streams.
func (m *Marathon) Streams() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

// LoadApps serves data as the /v2/apps answer (a fixture in Marathon's
// shape) instead of the put apps; nil goes back to them.
func (m *Marathon) LoadApps(data []byte) {
	m.mu.Lock()
	m.raw = data
	m.mu.Unlock()
}

// PutApp creates or replaces an app and scales it to spec.Instances,
// emitting api_post_event and the tasks' status updates.
func (m *Marathon) PutApp(spec AppSpec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[spec.ID]
	if !ok {
		a = &app{}
		m.apps[spec.ID] = a
	}
	a.spec = spec
	a.ver = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	def, _ := json.Marshal(m.appJSON(a, false))
	m.emitLocked("api_post_event", fmt.Sprintf(`{"remoteAddress":"10.0.0.1","uri":"/v2/apps%s","appDefinition":%s,"eventType":"api_post_event","timestamp":%q}`,
		spec.ID, def, now()))
	m.scaleLocked(a, spec.Instances, 0)
}

// Scale changes an app's instance count. Removed tasks go TASK_KILLING
// at once and TASK_KILLED (gone from the answers) after killDelay.
func (m *Marathon) Scale(id string, instances int, killDelay time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[id]
	if !ok {
		return fmt.Errorf("fake marathon: no app %s", id)
	}
	a.spec.Instances = instances
	m.scaleLocked(a, instances, killDelay)
	return nil
}

// DeleteApp kills an app's tasks and removes it.
func (m *Marathon) DeleteApp(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[id]
	if !ok {
		return
	}
	for _, t := range a.tasks {
		m.statusLocked(a, t, "TASK_KILLED")
	}
	delete(m.apps, id)
	m.emitLocked("app_terminated_event", fmt.Sprintf(`{"appId":%q,"eventType":"app_terminated_event","timestamp":%q}`, id, now()))
}

// Tasks lists an app's task IDs, oldest first.
func (m *Marathon) Tasks(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	if a, ok := m.apps[id]; ok {
		for _, t := range a.tasks {
			out = append(out, t.id)
		}
	}
	return out
}

// SetHealth sets a task's Marathon health result and emits
// health_status_changed_event.
func (m *Marathon) SetHealth(appID, taskID string, alive bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[appID]
	if !ok {
		return
	}
	for _, t := range a.tasks {
		if t.id == taskID {
			t.alive = &alive
			m.emitLocked("health_status_changed_event", fmt.Sprintf(
				`{"appId":%q,"taskId":%q,"instanceId":%q,"version":%q,"alive":%t,"eventType":"health_status_changed_event","timestamp":%q}`,
				appID, taskID, taskID, a.ver, alive, now()))
		}
	}
}

func (m *Marathon) scaleLocked(a *app, n int, killDelay time.Duration) {
	for len(aliveTasks(a)) < n {
		m.next++
		t := m.newTask(a, m.next)
		a.tasks = append(a.tasks, t)
		m.statusLocked(a, t, "TASK_RUNNING")
	}
	for live := aliveTasks(a); len(live) > n; live = live[1:] {
		t := live[0]
		m.statusLocked(a, t, "TASK_KILLING")
		kill := func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			a.tasks = removeTask(a.tasks, t)
			m.statusLocked(a, t, "TASK_KILLED")
		}
		if killDelay <= 0 {
			a.tasks = removeTask(a.tasks, t)
			m.statusLocked(a, t, "TASK_KILLED")
		} else {
			time.AfterFunc(killDelay, kill)
		}
	}
}

func aliveTasks(a *app) []*task {
	var out []*task
	for _, t := range a.tasks {
		if t.state != "TASK_KILLING" {
			out = append(out, t)
		}
	}
	return out
}

func removeTask(ts []*task, t *task) []*task {
	var out []*task
	for _, x := range ts {
		if x != t {
			out = append(out, x)
		}
	}
	return out
}

func (m *Marathon) newTask(a *app, n int) *task {
	name := strings.ReplaceAll(strings.TrimPrefix(a.spec.ID, "/"), "/", "_")
	t := &task{id: fmt.Sprintf("%s.%08x-6ca8-11e7-beb2-0e2beceebfcc", name, n), host: m.Hosts[n%len(m.Hosts)], state: "TASK_RUNNING"}
	ports := portCount(a.spec)
	for i := 0; i < ports; i++ {
		t.container = append(t.container, containerPort(a.spec, i))
		switch {
		case a.spec.Mode == Container:
		case i < len(a.spec.TaskPorts):
			t.ports = append(t.ports, a.spec.TaskPorts[i])
		default:
			t.ports = append(t.ports, 31000+(n*ports+i)%30000)
		}
	}
	if a.spec.Mode == Container {
		t.ip = fmt.Sprintf("9.0.%d.%d", 1+n/250%250, 2+n%250)
	} else {
		t.ip = fmt.Sprintf("172.17.0.%d", 2+n%250)
	}
	return t
}

func portCount(s AppSpec) int {
	return max(len(s.ServicePorts), len(s.ContainerPorts), len(s.PortNames))
}

func containerPort(s AppSpec, i int) int {
	if i < len(s.ContainerPorts) {
		return s.ContainerPorts[i]
	}
	return 8080 + i
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

func (m *Marathon) statusLocked(a *app, t *task, state string) {
	t.state = state
	ips := fmt.Sprintf(`[{"ipAddress":%q,"protocol":"IPv4"}]`, t.ip)
	ports, _ := json.Marshal(t.ports)
	if t.ports == nil {
		ports = []byte("[]")
	}
	m.emitLocked("status_update_event", fmt.Sprintf(
		`{"slaveId":"db7b40e2-791c-445f-b373-183e2a648a86-S1","taskId":%q,"taskStatus":%q,"message":"","appId":%q,"host":%q,"ipAddresses":%s,"ports":%s,"version":%q,"eventType":"status_update_event","timestamp":%q}`,
		t.id, state, a.spec.ID, t.host, ips, ports, a.ver, now()))
}

// sortedApps lists the apps by ID (m.mu held).
func (m *Marathon) sortedApps() []*app {
	out := make([]*app, 0, len(m.apps))
	for _, a := range m.apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].spec.ID < out[j].spec.ID })
	return out
}

// TestHeartbeat is the heartbeat period of ForTest's fake.
const TestHeartbeat = 50 * time.Millisecond

// ForTest starts a fake on a free loopback port with a TestHeartbeat
// heartbeat, closed when t ends.
func ForTest(t testing.TB) *Marathon {
	t.Helper()
	m, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Heartbeat = TestHeartbeat
	t.Cleanup(func() { m.Close() })
	return m
}
