// Package mesostest is a fake leading Mesos master for tests and
// benchmarks, served from inside a simulated node (Start) or on any
// listener (Serve): GET /master/state answers the document set last,
// POST /api/v1 {"type":"SUBSCRIBE"} holds an operator API event stream
// (SUBSCRIBED, carrying the GET_STATE set by SetOperatorState, a
// HEARTBEAT every Heartbeat, then the events handed to Set or Send),
// RecordIO-framed as Mesos sends it. State builds a small state document
// for unit tests.
package mesostest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Port is the Mesos master's HTTP port.
const Port = "5050"

// heartbeat is Mesos's heartbeat interval on operator API streams.
const heartbeat = 15 * time.Second

// Master is the fake master; Close stops it.
type Master struct {
	// URL is http://<node underlay address>:5050.
	URL string
	// Heartbeat is the streams' heartbeat period (Mesos's 15 s); set it
	// before the first SUBSCRIBE.
	Heartbeat time.Duration
	srv       *http.Server
	mu        sync.Mutex
	doc       []byte
	state     []byte // the get_state object of SUBSCRIBED; nil: none
	subs      map[chan string]bool
	streams   int
}

// Serve serves on ln; /master/state answers doc until the next Set.
func Serve(ln net.Listener, doc []byte) *Master {
	m := &Master{URL: "http://" + ln.Addr().String(), Heartbeat: heartbeat, doc: doc, subs: map[chan string]bool{}}
	m.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: m}
	go m.srv.Serve(ln)
	return m
}

// SetOperatorState sets the GET_STATE object (the value of
// "get_state") that the SUBSCRIBED event of every new stream carries.
func (m *Master) SetOperatorState(getState []byte) {
	m.mu.Lock()
	m.state = getState
	m.mu.Unlock()
}

// Send sends events (operator API JSON) to every open stream.
func (m *Master) Send(events ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sendLocked(events)
}

// Subscriptions counts the SUBSCRIBE requests served.
func (m *Master) Subscriptions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.streams
}

// Close stops the server and ends the streams.
func (m *Master) Close() error { return m.srv.Close() }

// TaskAdded is the TASK_ADDED event of a running task.
func TaskAdded(name string) string {
	return `{"type":"TASK_ADDED","task_added":{"task":{"name":"` + name + `","state":"TASK_RUNNING"}}}`
}

// Set makes doc the state and sends events to every subscriber, as a
// master does when a task is launched. It returns the moment the new
// document became what /master/state answers.
func (m *Master) Set(doc []byte, events ...string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc = doc
	at := time.Now()
	m.sendLocked(events)
	return at
}

func (m *Master) sendLocked(events []string) {
	for _, ev := range events {
		for ch := range m.subs {
			select {
			case ch <- ev:
			default:
			}
		}
	}
}

// ServeHTTP implements http.Handler.
func (m *Master) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/master/state":
		m.mu.Lock()
		doc := m.doc
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	case "/api/v1":
		m.subscribe(w, r)
	default:
		http.NotFound(w, r)
	}
}

// subscribe streams events to one SUBSCRIBE request until it ends.
func (m *Master) subscribe(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	if r.Method != http.MethodPost || !strings.Contains(string(body), `"SUBSCRIBE"`) {
		http.Error(w, `want POST {"type":"SUBSCRIBE"}`, http.StatusBadRequest)
		return
	}
	ch := make(chan string, 64)
	m.mu.Lock()
	m.subs[ch] = true
	m.streams++
	state, hb := m.state, m.Heartbeat
	m.mu.Unlock()
	defer func() { m.mu.Lock(); delete(m.subs, ch); m.mu.Unlock() }()
	w.Header().Set("Content-Type", "application/json")
	send := func(ev string) error {
		if _, err := fmt.Fprintf(w, "%d\n%s", len(ev), ev); err != nil {
			return err
		}
		w.(http.Flusher).Flush()
		return nil
	}
	getState := ""
	if state != nil {
		getState = `"get_state":` + string(state) + ","
	}
	if send(fmt.Sprintf(`{"type":"SUBSCRIBED","subscribed":{%s"heartbeat_interval_seconds":%g}}`, getState, hb.Seconds())) != nil {
		return
	}
	tick := time.NewTicker(hb)
	defer tick.Stop()
	for {
		var ev string
		select {
		case <-r.Context().Done():
			return
		case ev = <-ch:
		case <-tick.C:
			ev = `{"type":"HEARTBEAT"}`
		}
		if send(ev) != nil {
			return
		}
	}
}
