package marathontest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// subscriber is one open event stream.
type subscriber struct {
	types map[string]bool // nil: every type
	ch    chan string
}

// streamBuffer is how many events a slow stream may lag behind.
const streamBuffer = 4096

// ServeHTTP implements http.Handler.
func (m *Marathon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/v2/events":
		m.count("events")
		m.events(w, r)
	case r.URL.Path == "/v2/apps":
		m.count("apps")
		m.serveApps(w, r, "")
	case strings.HasPrefix(r.URL.Path, "/v2/apps/"):
		m.count("app")
		m.serveApps(w, r, "/"+strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2/apps/"), "/"))
	default:
		http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
	}
}

func (m *Marathon) count(kind string) {
	m.mu.Lock()
	m.requests[kind]++
	m.mu.Unlock()
}

func (m *Marathon) serveApps(w http.ResponseWriter, r *http.Request, id string) {
	m.mu.Lock()
	mode := m.mode
	m.mu.Unlock()
	switch mode {
	case Stall:
		select {
		case <-r.Context().Done():
		case <-m.closed:
		}
		return
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"apps": [{"id": "/web", "tasks": [ <html>502 Bad Gateway`)
		return
	}
	m.mu.Lock()
	var body any
	if id == "" {
		if m.raw != nil {
			raw := m.raw
			m.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write(raw)
			return
		}
		apps := []any{}
		for _, a := range m.sortedApps() {
			apps = append(apps, m.appJSON(a, true))
		}
		body = map[string]any{"apps": apps}
	} else if a, ok := m.apps[id]; ok {
		body = map[string]any{"app": m.appJSON(a, true)}
	}
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if body == nil {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":"App '%s' does not exist"}`, id)
		return
	}
	json.NewEncoder(w).Encode(body)
}

// appJSON renders an app as Marathon 1.5 does (m.mu held).
func (m *Marathon) appJSON(a *app, withTasks bool) map[string]any {
	s := a.spec
	labels := s.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	out := map[string]any{
		"id": s.ID, "cmd": "python3 -m http.server $PORT0", "cpus": 0.1, "mem": 128, "disk": 0, "gpus": 0,
		"instances": s.Instances, "executor": "", "labels": labels, "requirePorts": false,
		"backoffFactor": 1.15, "backoffSeconds": 1, "maxLaunchDelaySeconds": 3600,
		"upgradeStrategy": map[string]any{"maximumOverCapacity": 1, "minimumHealthCapacity": 1},
		"version":         a.ver, "versionInfo": map[string]any{"lastScalingAt": a.ver, "lastConfigChangeAt": a.ver},
		"killSelection": "YOUNGEST_FIRST", "tasksStaged": 0, "tasksRunning": len(a.tasks), "deployments": []any{},
	}
	n := portCount(s)
	switch s.Mode {
	case Bridge, Container:
		var pms []any
		for i := 0; i < n; i++ {
			pm := map[string]any{"containerPort": containerPort(s, i), "labels": map[string]any{}, "protocol": "tcp"}
			if s.Mode == Bridge {
				pm["hostPort"] = 0
			}
			if i < len(s.ServicePorts) && s.ServicePorts[i] != 0 {
				pm["servicePort"] = s.ServicePorts[i]
			}
			if i < len(s.PortNames) {
				pm["name"] = s.PortNames[i]
			}
			pms = append(pms, pm)
		}
		out["container"] = map[string]any{"type": "DOCKER", "docker": map[string]any{"image": "python:3", "forcePullImage": false,
			"privileged": false, "parameters": []any{}}, "volumes": []any{}, "portMappings": pms}
		if s.Mode == Bridge {
			out["networks"] = []any{map[string]any{"mode": "container/bridge"}}
		} else {
			out["networks"] = []any{map[string]any{"mode": "container", "name": "dcos"}}
		}
	default:
		var pds []any
		for i := 0; i < n; i++ {
			pd := map[string]any{"protocol": "tcp", "labels": map[string]any{}}
			if i < len(s.ServicePorts) {
				pd["port"] = s.ServicePorts[i]
			}
			if i < len(s.PortNames) {
				pd["name"] = s.PortNames[i]
			}
			pds = append(pds, pd)
		}
		out["portDefinitions"] = pds
		out["networks"] = []any{map[string]any{"mode": "host"}}
	}
	var hcs []any
	for _, hc := range s.HealthChecks {
		h := map[string]any{"protocol": hc.Protocol, "portIndex": hc.PortIndex, "gracePeriodSeconds": 300,
			"intervalSeconds": max(hc.IntervalSeconds, 1), "timeoutSeconds": max(hc.TimeoutSeconds, 1),
			"maxConsecutiveFailures": hc.MaxConsecutiveFailures, "delaySeconds": 15, "ignoreHttp1xx": false}
		if hc.Path != "" {
			h["path"] = hc.Path
		}
		hcs = append(hcs, h)
	}
	out["healthChecks"] = hcs
	if withTasks {
		tasks := []any{}
		for _, t := range a.tasks {
			tj := map[string]any{"id": t.id, "appId": s.ID, "host": t.host, "state": t.state, "version": a.ver,
				"slaveId": "db7b40e2-791c-445f-b373-183e2a648a86-S1", "stagedAt": a.ver, "startedAt": a.ver,
				"ipAddresses": []any{map[string]any{"ipAddress": t.ip, "protocol": "IPv4"}}, "ports": t.ports}
			if t.ports == nil {
				tj["ports"] = []any{}
			}
			if t.alive != nil {
				tj["healthCheckResults"] = []any{map[string]any{"alive": *t.alive, "consecutiveFailures": 0, "taskId": t.id}}
			}
			tasks = append(tasks, tj)
		}
		out["tasks"] = tasks
	}
	return out
}

// emitLocked queues an event for every stream that subscribed to its
// type (m.mu held).
func (m *Marathon) emitLocked(typ, data string) {
	if m.silent {
		return
	}
	msg := "event: " + typ + "\ndata: " + data + "\n\n"
	for s := range m.subs {
		if s.types != nil && !s.types[typ] {
			continue
		}
		select {
		case s.ch <- msg:
		default: // a stream this far behind loses events, as a real one would
		}
	}
}

func (m *Marathon) broadcast(typ, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.subs {
		select {
		case s.ch <- msg:
		default:
		}
	}
}

// events serves one /v2/events stream.
func (m *Marathon) events(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		http.Error(w, `{"message":"want Accept: text/event-stream"}`, http.StatusNotAcceptable)
		return
	}
	s := &subscriber{ch: make(chan string, streamBuffer)}
	if ts := r.URL.Query()["event_type"]; len(ts) > 0 {
		s.types = map[string]bool{}
		for _, t := range ts {
			s.types[t] = true
		}
	}
	m.mu.Lock()
	m.subs[s] = true
	hb := m.Heartbeat
	m.mu.Unlock()
	defer func() { m.mu.Lock(); delete(m.subs, s); m.mu.Unlock() }()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fmt.Fprintf(w, "event: event_stream_attached\ndata: {\"remoteAddress\":%q,\"eventType\":\"event_stream_attached\",\"timestamp\":%q}\n\n", r.RemoteAddr, now())
	fl.Flush()
	tick := time.NewTicker(hb)
	defer tick.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case <-m.closed:
			return
		case msg = <-s.ch:
		case <-tick.C:
			m.mu.Lock()
			silent := m.silent
			m.mu.Unlock()
			if silent {
				continue
			}
			msg = "\r\n"
		}
		if _, err := fmt.Fprint(w, msg); err != nil {
			return
		}
		fl.Flush()
	}
}
