package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/netsim"
)

// mesosTask is a running task of marathon on an agent, with one container
// IP on the dcos overlay.
type mesosTask struct {
	Name, Agent, IP string
}

// mesosState renders a Mesos /master/state document (the shape
// scripts/demo.sh saves): the master at masterIP is the leader, agents
// maps an agent id to its address, every task runs under the framework
// marathon with its container IP in the status's network_infos.
func mesosState(masterIP string, agents map[string]string, tasks []mesosTask) ([]byte, error) {
	pid := fmt.Sprintf("master@%s:5050", masterIP)
	ts := make([]any, 0, len(tasks))
	for _, t := range tasks {
		ts = append(ts, map[string]any{
			"id": t.Name + ".bench", "name": t.Name, "framework_id": "fw-marathon", "slave_id": t.Agent,
			"state": "TASK_RUNNING", "resources": map[string]any{"ports": "[80-80]"},
			"statuses": []any{map[string]any{
				"state": "TASK_RUNNING", "timestamp": 1,
				"container_status": map[string]any{"network_infos": []any{map[string]any{
					"name":         overlayName,
					"ip_addresses": []any{map[string]any{"protocol": "IPv4", "ip_address": t.IP}},
				}}},
			}},
		})
	}
	slaves := make([]any, 0, len(agents))
	for id, ip := range agents {
		slaves = append(slaves, map[string]any{"id": id, "hostname": ip, "pid": fmt.Sprintf("slave(1)@%s:5051", ip)})
	}
	doc := map[string]any{
		"id": "bench-master", "pid": pid, "hostname": masterIP, "leader": pid,
		"leader_info": map[string]any{"id": "bench-master", "pid": pid, "port": 5050, "hostname": masterIP},
		"frameworks": []any{map[string]any{
			"id": "fw-marathon", "name": "marathon", "hostname": masterIP,
			"pid": fmt.Sprintf("scheduler@%s:8080", masterIP), "active": true, "tasks": ts,
		}},
		"slaves": slaves,
	}
	return json.MarshalIndent(doc, "", " ")
}

// fakeMaster is the leading Mesos master as dcnet-dns sees it: GET
// /master/state answers the current document, POST /api/v1 SUBSCRIBE
// holds an operator API event stream (SUBSCRIBED, then one TASK_ADDED per
// set), RecordIO-framed as Mesos sends it. It listens on the master node's
// underlay address, port 5050, from a socket opened in that netns.
type fakeMaster struct {
	URL  string
	srv  *http.Server
	mu   sync.Mutex
	doc  []byte
	subs map[chan string]bool
}

// mesosPort is the master's HTTP port.
const mesosPort = "5050"

// startFakeMaster serves on node; Close stops it.
func startFakeMaster(node *netsim.Node) (*fakeMaster, error) {
	addr := net.JoinHostPort(node.UnderlayIP.String(), mesosPort)
	var ln net.Listener
	if err := node.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("fake mesos master on %s: %w", node.Name, err)
	}
	f := &fakeMaster{URL: "http://" + addr, subs: map[chan string]bool{}}
	f.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: f}
	go f.srv.Serve(ln)
	return f, nil
}

// Close stops the server and ends the streams.
func (f *fakeMaster) Close() error { return f.srv.Close() }

// ServeHTTP implements http.Handler.
func (f *fakeMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/master/state":
		f.mu.Lock()
		doc := f.doc
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	case "/api/v1":
		f.subscribe(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeMaster) subscribe(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	if r.Method != http.MethodPost || !strings.Contains(string(body), `"SUBSCRIBE"`) {
		http.Error(w, `want POST {"type":"SUBSCRIBE"}`, http.StatusBadRequest)
		return
	}
	ch := make(chan string, 64)
	f.mu.Lock()
	f.subs[ch] = true
	f.mu.Unlock()
	defer func() { f.mu.Lock(); delete(f.subs, ch); f.mu.Unlock() }()
	w.Header().Set("Content-Type", "application/json")
	send := func(ev string) error {
		if _, err := fmt.Fprintf(w, "%d\n%s", len(ev), ev); err != nil {
			return err
		}
		w.(http.Flusher).Flush()
		return nil
	}
	if send(`{"type":"SUBSCRIBED","subscribed":{"heartbeat_interval_seconds":15}}`) != nil {
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		var ev string
		select {
		case <-r.Context().Done():
			return
		case ev = <-ch:
		case <-heartbeat.C:
			ev = `{"type":"HEARTBEAT"}`
		}
		if send(ev) != nil {
			return
		}
	}
}

// set makes doc the state and, when task is not empty, sends TASK_ADDED
// for it to every subscriber, as a master does when a task is launched.
// It returns the moment the new document became what /master/state
// answers.
func (f *fakeMaster) set(doc []byte, task string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.doc = doc
	at := time.Now()
	if task != "" {
		ev := `{"type":"TASK_ADDED","task_added":{"task":{"name":"` + task + `","state":"TASK_RUNNING"}}}`
		for ch := range f.subs {
			select {
			case ch <- ev:
			default:
			}
		}
	}
	return at
}
