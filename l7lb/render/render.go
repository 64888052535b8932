package render

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/dcnet/dcnet/l7lb/model"
)

// Defaults of Options.
const (
	DefaultHardStopAfter = 30 * time.Second
	DefaultConnect       = 5 * time.Second
	DefaultClient        = 50 * time.Second
	DefaultServer        = 50 * time.Second
	DefaultHTTPRequest   = 15 * time.Second
	DefaultKeepAlive     = 15 * time.Second
	DefaultQueue         = 30 * time.Second
	DefaultTunnel        = time.Hour
	// HSTSMaxAge is the max-age of Strict-Transport-Security (Marathon-LB's).
	HSTSMaxAge = 15768000
	// StickyCookie is the cookie that pins a client to a server slot.
	StickyCookie = "dcnet_server"
)

// Placeholder is the address of a server slot nobody uses: maintenance
// mode, never connected to.
var Placeholder = netip.MustParseAddrPort("127.0.0.1:1")

// Options are the instance-wide settings of a rendered configuration.
type Options struct {
	// StatsSocket is the runtime API's unix socket (level admin).
	StatsSocket string
	// StatsBind, when valid, serves HAProxy's stats page
	// (/haproxy?stats), its Prometheus exporter (/metrics) and a health
	// URI (/_haproxy_health_check), as Marathon-LB does on :9090.
	StatsBind netip.AddrPort
	// HardStopAfter bounds how long old workers finish their connections
	// after a reload (default 30 s).
	HardStopAfter time.Duration
	// MaxConn is the global connection limit; 0 leaves HAProxy's.
	MaxConn int
	// Timeouts of the defaults section; zero fields take the defaults.
	Timeouts Timeouts
}

// Timeouts are HAProxy's timeouts.
type Timeouts struct {
	Connect, Client, Server, HTTPRequest, KeepAlive, Queue, Tunnel time.Duration
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.HardStopAfter, DefaultHardStopAfter)
	t := &o.Timeouts
	def(&t.Connect, DefaultConnect)
	def(&t.Client, DefaultClient)
	def(&t.Server, DefaultServer)
	def(&t.HTTPRequest, DefaultHTTPRequest)
	def(&t.KeepAlive, DefaultKeepAlive)
	def(&t.Queue, DefaultQueue)
	def(&t.Tunnel, DefaultTunnel)
	return o
}

// SlotState is what a server slot is doing.
type SlotState int

// Slot states.
const (
	// SlotFree: no server; maintenance with the placeholder address.
	SlotFree SlotState = iota
	// SlotReady: a server taking traffic.
	SlotReady
	// SlotDrain: a server keeping its connections and sticky clients but
	// taking no new ones (rendered as weight 0).
	SlotDrain
)

func (s SlotState) String() string {
	switch s {
	case SlotReady:
		return "ready"
	case SlotDrain:
		return "drain"
	}
	return "free"
}

// Slot is one pre-allocated server line of a backend.
type Slot struct {
	// Key is the model.Server.Key in the slot, "" when free.
	Key    string
	Addr   netip.AddrPort
	Weight int
	State  SlotState
}

// SlotName is the HAProxy server name of slot i (from 0): s1, s2, ...
func SlotName(i int) string { return "s" + strconv.Itoa(i+1) }

// Input is what to render.
type Input struct {
	// Config must have passed Validate.
	Config model.Config
	// Slots holds every backend's server slots (the backend's capacity
	// is len); a backend missing here gets none.
	Slots map[string][]Slot
	// Dir is the directory of this generation's maps, crt-lists and
	// certificates, named by absolute path in the configuration.
	Dir string
}

// Output is a rendered configuration with the files it refers to.
type Output struct {
	Config []byte
	// Files are the maps, crt-lists and certificates, by absolute path.
	Files map[string][]byte
	// Sections locate each part of Config by line, to tell which part an
	// error of `haproxy -c` is about.
	Sections []Section
	// Maps are the routing maps, by frontend.
	Maps map[string]Map
	// Certs are the certificate files by absolute path.
	Certs map[string][]byte
	// CrtLists are the certificate paths of each TLS frontend's crt-list,
	// in order (the first is the default certificate).
	CrtLists map[string][]string
}

// Map is one frontend's routing map.
type Map struct {
	Path    string
	Entries []MapEntry
}

// MapEntry is a map line: Key (host+path prefix, or SNI host) → backend.
type MapEntry struct {
	Key, Backend string
}

// Section is a part of the configuration and its lines (from 1, Last
// included).
type Section struct {
	// Kind is "global", "defaults", "stats", "frontend", "backend" or
	// "userlist" (a backend's basic auth users: Name is the backend's).
	Kind, Name  string
	First, Last int
}

// SectionAt returns the section holding line, if any.
func (o *Output) SectionAt(line int) (Section, bool) {
	for _, s := range o.Sections {
		if line >= s.First && line <= s.Last {
			return s, true
		}
	}
	return Section{}, false
}

// Paths of a generation's files.
func MapPath(dir, frontend string) string { return filepath.Join(dir, "maps", frontend+".map") }

// CrtListPath is the crt-list of a TLS frontend.
func CrtListPath(dir, frontend string) string {
	return filepath.Join(dir, "crt-lists", frontend+".crtlist")
}

// CertPath is a certificate's file.
func CertPath(dir, name string) string { return filepath.Join(dir, "certs", name) }

// MapKey is the map key of route r in a frontend of mode m: host (lower
// case) + path prefix ("/" when none) in HTTP, the SNI host in TCP.
func MapKey(m model.Mode, r model.Route) string {
	host := strings.ToLower(r.Host)
	if m == model.ModeTCP {
		return host
	}
	p := r.PathPrefix
	if p == "" {
		p = "/"
	}
	return host + p
}

// MapEntries are a frontend's map lines, sorted by key.
func MapEntries(f model.Frontend) []MapEntry {
	es := make([]MapEntry, 0, len(f.Routes))
	for _, r := range f.Routes {
		es = append(es, MapEntry{Key: MapKey(f.Mode, r), Backend: r.Backend})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Key < es[j].Key })
	return es
}

// MapFile renders map entries as a map file.
func MapFile(es []MapEntry) []byte {
	var b bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&b, "%s %s\n", e.Key, e.Backend)
	}
	return b.Bytes()
}

// CrtListFile renders certificate paths as a crt-list file.
func CrtListFile(paths []string) []byte {
	if len(paths) == 0 {
		return nil
	}
	return []byte(strings.Join(paths, "\n") + "\n")
}

// RouteKinds says which lookups a frontend's routes need: exact hosts,
// wildcard hosts, any host. A new kind changes the configuration (a
// reload); a new route of a kind already there is a map change.
type RouteKinds struct {
	Exact, Wildcard, AnyHost bool
}

// KindsOf returns the route kinds of f.
func KindsOf(f model.Frontend) RouteKinds {
	var k RouteKinds
	for _, r := range f.Routes {
		switch {
		case r.Host == "":
			k.AnyHost = true
		case strings.HasPrefix(r.Host, "*."):
			k.Wildcard = true
		default:
			k.Exact = true
		}
	}
	return k
}

// Render renders in with opts.
func Render(in Input, opts Options) (*Output, error) {
	opts = opts.withDefaults()
	r := &renderer{out: &Output{
		Files: map[string][]byte{}, Maps: map[string]Map{},
		Certs: map[string][]byte{}, CrtLists: map[string][]string{},
	}}
	if err := r.section("global", "", "global", opts); err != nil {
		return nil, err
	}
	if err := r.section("defaults", "", "defaults", opts); err != nil {
		return nil, err
	}
	if opts.StatsBind.IsValid() {
		if err := r.section("stats", StatsFrontend, "stats", opts); err != nil {
			return nil, err
		}
	}
	for _, f := range in.Config.Frontends {
		if err := r.frontend(f, in.Dir); err != nil {
			return nil, err
		}
	}
	for _, b := range in.Config.Backends {
		if b.Auth != nil {
			if err := r.section("userlist", b.Name, "userlist", b); err != nil {
				return nil, err
			}
		}
		if err := r.section("backend", b.Name, "backend", backendData{Backend: b, Servers: serverLines(b, in.Slots[b.Name])}); err != nil {
			return nil, err
		}
	}
	r.out.Config = r.buf.Bytes()
	return r.out, nil
}

type renderer struct {
	buf  bytes.Buffer
	line int // lines written so far
	out  *Output
}

// section executes template name with data and records its lines.
func (r *renderer) section(kind, name, tmpl string, data any) error {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, tmpl, data); err != nil {
		return fmt.Errorf("render %s %s: %w", kind, name, err)
	}
	text := strings.TrimRight(b.String(), "\n") + "\n\n"
	n := strings.Count(text, "\n")
	r.out.Sections = append(r.out.Sections, Section{Kind: kind, Name: name, First: r.line + 1, Last: r.line + n})
	r.line += n
	r.buf.WriteString(text)
	return nil
}

// frontendData is what the frontend template sees.
type frontendData struct {
	model.Frontend
	BindAddr string
	CrtList  string
	MapPath  string
	Kinds    RouteKinds
}

func (r *renderer) frontend(f model.Frontend, dir string) error {
	d := frontendData{Frontend: f, BindAddr: bindAddr(f.Bind), Kinds: KindsOf(f)}
	if f.Mode == model.ModeHTTP || f.TLS != nil {
		d.MapPath = MapPath(dir, f.Name)
		es := MapEntries(f)
		r.out.Maps[f.Name] = Map{Path: d.MapPath, Entries: es}
		r.out.Files[d.MapPath] = MapFile(es)
	}
	if f.TLS != nil {
		d.CrtList = CrtListPath(dir, f.Name)
		var list []string
		for _, c := range f.TLS.Certs {
			p := CertPath(dir, c.Name)
			r.out.Certs[p] = c.PEM
			r.out.Files[p] = c.PEM
			list = append(list, p)
		}
		r.out.CrtLists[f.Name] = list
		r.out.Files[d.CrtList] = CrtListFile(list)
	}
	return r.section("frontend", f.Name, "frontend", d)
}

func bindAddr(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return fmt.Sprintf("*:%d", ap.Port())
	}
	if ap.Addr().Is6() {
		return fmt.Sprintf("[%s]:%d", ap.Addr(), ap.Port())
	}
	return ap.String()
}

// backendData is what the backend template sees.
type backendData struct {
	model.Backend
	// Servers are the slots' server lines, rendered without the template
	// (the bulk of a large configuration).
	Servers string
}

// serverLines renders every slot of b, one indented line each.
func serverLines(b model.Backend, slots []Slot) string {
	var l strings.Builder
	for i, s := range slots {
		name := SlotName(i)
		l.WriteString("\n    server ")
		l.WriteString(name)
		l.WriteByte(' ')
		switch s.State {
		case SlotFree:
			l.WriteString(Placeholder.String())
			l.WriteString(" disabled")
		case SlotDrain:
			l.WriteString(serverAddr(s.Addr))
			l.WriteString(" weight 0")
		default:
			l.WriteString(serverAddr(s.Addr))
			l.WriteString(" weight ")
			l.WriteString(strconv.Itoa(s.Weight))
		}
		if b.Sticky {
			l.WriteString(" cookie ")
			l.WriteString(name)
		}
	}
	return l.String()
}

func serverAddr(ap netip.AddrPort) string {
	if ap.Addr().Is6() {
		return fmt.Sprintf("[%s]:%d", ap.Addr(), ap.Port())
	}
	return ap.String()
}

// dur renders a duration in HAProxy's units (ms).
func dur(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

var templates = template.Must(template.New("haproxy").Funcs(template.FuncMap{
	"dur":        dur,
	"bindAddr":   bindAddr,
	"hstsMaxAge": func() int { return HSTSMaxAge },
	"cookie":     func() string { return StickyCookie },
	"checkPath": func(h *model.HealthCheck) string {
		if h.Path == "" {
			return "/"
		}
		return h.Path
	},
}).Parse(configTemplate))
