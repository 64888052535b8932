package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/l7lb/haproxy"
	"github.com/dcnet/dcnet/l7lb/render"
)

// FakeHAProxy is an HAProxy for unit tests: it loads the server lines,
// map files and certificates a rendered configuration names, and answers
// the runtime commands the Applier sends by changing that state. State
// prints it as text a test compares.
type FakeHAProxy struct {
	// Path is the configuration file (ConfigPath).
	Path string
	// CheckFunc, when set, plays `haproxy -c`.
	CheckFunc func(path string) error
	// LoadFunc, when set, may refuse a start or reload of the file's
	// contents (a bind that fails).
	LoadFunc func(cfg string) error

	mu       sync.Mutex
	running  bool
	starts   uint64
	loads    int
	servers  map[string]*fakeServer // "backend/server"
	maps     map[string][]string    // path → "key value" lines
	staged   map[string][]string    // "path@ver" → lines
	nextVer  int
	certs    map[string]string   // path → PEM
	crtLists map[string][]string // crt-list path → certificate paths
	tx       map[string]string
	sessions map[string]int
	sent     int
}

type fakeServer struct {
	addr   string
	weight int
	state  string
}

var _ HAProxy = (*FakeHAProxy)(nil)

// ConfigPath implements HAProxy.
func (f *FakeHAProxy) ConfigPath() string { return f.Path }

// Running implements HAProxy.
func (f *FakeHAProxy) Running() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

// Starts implements HAProxy.
func (f *FakeHAProxy) Starts() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

// Loads counts starts and reloads.
func (f *FakeHAProxy) Loads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads
}

// Start implements HAProxy.
func (f *FakeHAProxy) Start(ctx context.Context) error {
	if err := f.load(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = true
	f.starts++
	return nil
}

// Reload implements HAProxy.
func (f *FakeHAProxy) Reload(ctx context.Context) error {
	if !f.Running() {
		return errors.New("fake haproxy: not running")
	}
	return f.load()
}

// Restart plays a crash and the supervisor's restart: the file is loaded
// again and Starts moves.
func (f *FakeHAProxy) Restart() error {
	if err := f.load(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	return nil
}

// Check implements HAProxy.
func (f *FakeHAProxy) Check(ctx context.Context, path string) error {
	if f.CheckFunc != nil {
		return f.CheckFunc(path)
	}
	return nil
}

// SetSessions sets the sessions `show stat` reports for backend/server.
func (f *FakeHAProxy) SetSessions(server string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions == nil {
		f.sessions = map[string]int{}
	}
	f.sessions[server] = n
}

// Sent counts the runtime commands received.
func (f *FakeHAProxy) Sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}

var (
	fakeServerRE = regexp.MustCompile(`^\s+server (s\d+) (\S+)(?: weight (\d+))?( disabled)?`)
	fakeMapRE    = regexp.MustCompile(`map(?:_beg)?\(([^)]+)\)`)
	fakeCrtRE    = regexp.MustCompile(`crt-list (\S+)`)
)

// load reads the configuration file and the files it names.
func (f *FakeHAProxy) load() error {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return err
	}
	if f.LoadFunc != nil {
		if err := f.LoadFunc(string(b)); err != nil {
			return err
		}
	}
	servers := map[string]*fakeServer{}
	maps := map[string][]string{}
	certs := map[string]string{}
	crtLists := map[string][]string{}
	backend := ""
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "backend "); ok {
			backend = name
		}
		if m := fakeServerRE.FindStringSubmatch(line); m != nil {
			s := &fakeServer{addr: m[2], weight: 1, state: "ready"}
			if m[3] != "" {
				s.weight, _ = strconv.Atoi(m[3])
			}
			if m[4] != "" {
				s.state = "maint"
			}
			servers[backend+"/"+m[1]] = s
		}
		for _, m := range fakeMapRE.FindAllStringSubmatch(line, -1) {
			mb, err := os.ReadFile(m[1])
			if err != nil {
				return err
			}
			maps[m[1]] = nonEmptyLines(string(mb))
		}
		if m := fakeCrtRE.FindStringSubmatch(line); m != nil {
			lb, err := os.ReadFile(m[1])
			if err != nil {
				return err
			}
			crtLists[m[1]] = nonEmptyLines(string(lb))
			for _, p := range nonEmptyLines(string(lb)) {
				cb, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				certs[p] = string(cb)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers, f.maps, f.certs, f.crtLists = servers, maps, certs, crtLists
	f.staged, f.tx = map[string][]string{}, map[string]string{}
	f.loads++
	return nil
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// Exec implements HAProxy with the runtime commands the Applier uses.
func (f *FakeHAProxy) Exec(ctx context.Context, cmds []haproxy.Command) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running {
		return nil, errors.New("fake haproxy: not running")
	}
	var replies []string
	for _, c := range cmds {
		f.sent++
		replies = append(replies, f.answer(c))
	}
	return replies, nil
}

func (f *FakeHAProxy) answer(c haproxy.Command) string {
	w := strings.Fields(c.Line)
	switch {
	case len(w) >= 5 && w[0] == "set" && w[1] == "server":
		s, ok := f.servers[w[2]]
		if !ok {
			return "No such server."
		}
		switch w[3] {
		case "addr":
			s.addr = w[4]
			if len(w) == 7 {
				s.addr = w[4] + ":" + w[6]
			}
			return "IP changed from 'x' to '" + w[4] + "' by 'stats socket command'"
		case "state":
			s.state = w[4]
			return ""
		case "weight":
			s.weight, _ = strconv.Atoi(w[4])
			return ""
		}
	case len(w) == 3 && w[0] == "prepare" && w[1] == "map":
		f.nextVer++
		f.staged[w[2]+"@"+strconv.Itoa(f.nextVer)] = []string{}
		return fmt.Sprintf("New version created: %d", f.nextVer)
	case len(w) == 4 && w[0] == "add" && w[1] == "map":
		k := w[3] + w[2]
		if _, ok := f.staged[k]; !ok {
			return "Unknown version."
		}
		f.staged[k] = append(f.staged[k], nonEmptyLines(c.Payload)...)
		return ""
	case len(w) == 4 && w[0] == "commit" && w[1] == "map":
		k := w[3] + w[2]
		lines, ok := f.staged[k]
		if !ok {
			return "Unknown version."
		}
		f.maps[w[3]] = lines
		delete(f.staged, k)
		return ""
	case len(w) == 4 && w[0] == "new" && w[1] == "ssl":
		if _, ok := f.certs[w[3]]; ok {
			return "Certificate '" + w[3] + "' already exists!"
		}
		f.certs[w[3]] = ""
		return "New empty certificate store '" + w[3] + "'!"
	case len(w) == 5 && w[0] == "add" && w[1] == "ssl" && w[2] == "crt-list":
		if _, ok := f.certs[w[4]]; !ok {
			return "Can't find the certificate!"
		}
		f.crtLists[w[3]] = append(f.crtLists[w[3]], w[4])
		return "Inserting certificate '" + w[4] + "' in crt-list '" + w[3] + "'.\nSuccess!"
	case len(w) == 5 && w[0] == "del" && w[1] == "ssl" && w[2] == "crt-list":
		list := f.crtLists[w[3]]
		i := slices.Index(list, w[4])
		if i < 0 {
			return "Can't find the entry!"
		}
		f.crtLists[w[3]] = slices.Delete(slices.Clone(list), i, i+1)
		return "Entry '" + w[4] + "' deleted in crtlist '" + w[3] + "'!"
	case len(w) == 4 && w[0] == "del" && w[1] == "ssl" && w[2] == "cert":
		for _, list := range f.crtLists {
			if slices.Contains(list, w[3]) {
				return "Can't remove the certificate: certificate '" + w[3] + "' in use, can't be deleted!"
			}
		}
		delete(f.certs, w[3])
		return "Certificate '" + w[3] + "' deleted!"
	case len(w) == 4 && w[0] == "set" && w[1] == "ssl":
		if _, ok := f.certs[w[3]]; !ok {
			return "Can't replace a certificate which is not referenced by the configuration!"
		}
		if render.CheckPEM([]byte(c.Payload)) != "" {
			return "unable to load certificate from file '" + w[3] + "'.\nCan't update " + w[3] + "!"
		}
		f.tx[w[3]] = c.Payload
		return "Transaction created for certificate " + w[3] + "!"
	case len(w) == 4 && w[0] == "commit" && w[1] == "ssl":
		p, ok := f.tx[w[3]]
		if !ok {
			return "No ongoing transaction!"
		}
		f.certs[w[3]] = p
		delete(f.tx, w[3])
		return "Committing " + w[3] + ".\nSuccess!"
	case len(w) == 4 && w[0] == "abort" && w[1] == "ssl":
		delete(f.tx, w[3])
		return "Transaction aborted for certificate '" + w[3] + "'!"
	case len(w) == 5 && w[0] == "show" && w[1] == "stat":
		var b strings.Builder
		b.WriteString("# pxname,svname,qcur,scur,\n")
		for _, k := range sortedServers(f.servers) {
			if be, srv, _ := strings.Cut(k, "/"); be == w[2] {
				fmt.Fprintf(&b, "%s,%s,0,%d,\n", be, srv, f.sessions[k])
			}
		}
		return b.String()
	}
	return "Unknown command: " + c.Line
}

func sortedServers(m map[string]*fakeServer) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// State prints the servers that are not in maintenance, the maps and the
// certificates' first lines, sorted:
//
//	server web/s1 9.0.1.2:80 weight 1 ready
//	map /x/gen/1/maps/http_in.map web.example/ web
func (f *FakeHAProxy) State() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for _, k := range sortedServers(f.servers) {
		s := f.servers[k]
		if s.state == "maint" {
			continue
		}
		state := s.state
		if s.weight == 0 {
			state = "drain" // how the file says drain
		}
		w := s.weight
		if state == "drain" {
			w = 0
		}
		lines = append(lines, fmt.Sprintf("server %s %s weight %d %s", k, s.addr, w, state))
	}
	for p, entries := range f.maps {
		for _, e := range entries {
			lines = append(lines, "map "+trimGen(p)+" "+e)
		}
	}
	for p, pem := range f.certs {
		lines = append(lines, fmt.Sprintf("cert %s %d bytes", trimGen(p), len(pem)))
	}
	for l, paths := range f.crtLists {
		for i, p := range paths {
			lines = append(lines, fmt.Sprintf("crt-list %s %d %s", trimGen(l), i, trimGen(p)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// trimGen drops the generation directory from a path.
func trimGen(p string) string {
	if i := strings.Index(p, "/gen/"); i >= 0 {
		rest := p[i+len("/gen/"):]
		if j := strings.Index(rest, "/"); j >= 0 {
			return rest[j+1:]
		}
	}
	return p
}
