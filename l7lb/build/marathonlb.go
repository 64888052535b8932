package build

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/l7lb/labels"
	"github.com/dcnet/dcnet/l7lb/marathon"
	"github.com/dcnet/dcnet/l7lb/model"
)

// Names of Marathon-LB's shared frontends.
const (
	HTTPFrontend  = "marathon_http_in"
	HTTPSFrontend = "marathon_https_in"
	// FrontendSuffix ends the name of an app port's own frontend:
	// Marathon-LB named it like its backend (group_web_10000), but the
	// applier needs frontend and backend names apart, so the frontend is
	// group_web_10000_in; the backend keeps Marathon-LB's name (stats
	// and dashboards keyed on it keep working).
	FrontendSuffix = "_in"
)

// MarathonLB configures Marathon-LB mode.
type MarathonLB struct {
	// Groups are served (--group); "*" serves every app, with or
	// without a group.
	Groups []string
	// StrictMode serves only ports with HAPROXY_{n}_ENABLED=true.
	StrictMode bool
	// HTTP and HTTPS are the binds of marathon_http_in and
	// marathon_https_in; port 0 leaves the frontend out.
	HTTP, HTTPS netip.AddrPort
	// SSLCerts are the certificates of marathon_https_in (--ssl-certs),
	// the first the default; the apps' HAPROXY_{n}_SSL_CERT files are
	// added for SNI. Without any, there is no :443 frontend.
	SSLCerts []string
	// MinAssignedPort and MaxAssignedPort bound the service ports given
	// to IP-per-task apps without one (0: none given).
	MinAssignedPort, MaxAssignedPort int
	// SelfID is the app ID of this balancer in Marathon (Marathon-LB's
	// FRAMEWORK_NAME), never served.
	SelfID string
}

// DefaultMarathonLB is Marathon-LB's defaults: group external, *:80 and
// *:443, assigned ports 10050-10100.
func DefaultMarathonLB() MarathonLB {
	return MarathonLB{Groups: []string{"external"}, HTTP: netip.AddrPortFrom(netip.Addr{}, 80),
		HTTPS: netip.AddrPortFrom(netip.Addr{}, 443), MinAssignedPort: marathon.DefaultMinAssignedPort,
		MaxAssignedPort: marathon.DefaultMaxAssignedPort}
}

// service is one served service port of an app.
type service struct {
	index    int
	fe       model.Frontend
	be       model.Backend
	vhosts   []string
	paths    []string
	weight   int
	cert     string // path of HAPROXY_{n}_SSL_CERT
	redirect bool
}

// route is a vhost route with what decides between duplicates.
type route struct {
	r      model.Route
	weight int
	order  int
	app    string
	index  int
}

// BuildMarathonLB builds Marathon-LB mode's configuration.
func BuildMarathonLB(in Inputs, o MarathonLB) Output {
	var out Output
	c := newCerts(in.ReadFile)
	assigner := marathon.NewPortAssigner(o.MinAssignedPort, o.MaxAssignedPort)
	for i := range in.Apps {
		for _, p := range marathon.DeclaredServicePorts(&in.Apps[i]) {
			assigner.Reserve(p)
		}
	}
	binds := map[netip.AddrPort]string{}
	for _, b := range []struct {
		addr netip.AddrPort
		name string
	}{{o.HTTP, HTTPFrontend}, {o.HTTPS, HTTPSFrontend}} {
		if b.addr.Port() != 0 {
			binds[b.addr] = "frontend " + b.name
		}
	}
	var routes []route
	var appCerts []string
	for i := range in.Apps {
		a := &in.Apps[i]
		if a.ID == o.SelfID {
			continue
		}
		svcs, err := appServices(a, assigner, o, c, &out)
		if err == nil {
			err = claimBinds(binds, a.ID, svcs)
		}
		if err != nil {
			out.problem(kindApp, a.ID, "%v", err)
			continue
		}
		for _, s := range svcs {
			out.Config.Frontends = append(out.Config.Frontends, s.fe)
			out.Config.Backends = append(out.Config.Backends, s.be)
			if s.cert != "" {
				appCerts = append(appCerts, s.cert)
			}
			for _, h := range s.vhosts {
				paths := s.paths
				if len(paths) == 0 {
					paths = []string{""}
				}
				for _, p := range paths {
					routes = append(routes, route{r: model.Route{Host: h, PathPrefix: p, Backend: s.be.Name},
						weight: s.weight, order: len(routes), app: a.ID, index: s.index})
				}
			}
		}
	}
	rs := dedupeRoutes(routes, &out)
	if o.HTTP.Port() != 0 {
		out.Config.Frontends = append(out.Config.Frontends, model.Frontend{Name: HTTPFrontend, Bind: o.HTTP, Mode: model.ModeHTTP, Routes: rs})
	}
	if o.HTTPS.Port() != 0 {
		if tls := httpsCerts(o.SSLCerts, appCerts, c, &out); tls != nil {
			out.Config.Frontends = append(out.Config.Frontends, model.Frontend{Name: HTTPSFrontend, Bind: o.HTTPS,
				Mode: model.ModeHTTP, TLS: tls, Routes: append([]model.Route(nil), rs...)})
		}
	}
	out.Config.Normalize()
	return out
}

// appServices builds every served port of an app; any bad label fails
// the whole app, with every reason joined.
func appServices(a *marathon.App, assigner *marathon.PortAssigner, o MarathonLB, c *certs, out *Output) ([]service, error) {
	ports := assigner.ServicePorts(a)
	for _, n := range labels.Notes(a.Labels, len(ports)) {
		out.note(a.ID, "%s", n)
	}
	var errs []error
	var svcs []service
	for i, sp := range ports {
		l, notes, err := labels.Parse(a.Labels, i, o.StrictMode)
		for _, n := range notes {
			out.note(a.ID, "%s", n)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !inGroups(o.Groups, l.Groups) || !l.Enabled {
			continue
		}
		if sp == 0 {
			errs = append(errs, fmt.Errorf("service port %d: none declared and none left to assign in [%d, %d]", i, o.MinAssignedPort, o.MaxAssignedPort))
			continue
		}
		s, err := newService(a, i, sp, l, c, out)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		svcs = append(svcs, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return svcs, nil
}

// inGroups is Marathon-LB's has_group.
func inGroups(served, app []string) bool {
	for _, g := range served {
		if g == "*" {
			return true
		}
		for _, a := range app {
			if a == g {
				return true
			}
		}
	}
	return false
}

func newService(a *marathon.App, i, servicePort int, l labels.Service, c *certs, out *Output) (service, error) {
	pre := labels.Prefix + strconv.Itoa(i) + "_"
	hc := marathon.HealthCheckFor(a, i)
	mode := l.Mode
	switch {
	case mode != "":
	case hc != nil && marathon.IsHTTPCheck(hc), len(l.VHosts) > 0:
		mode = model.ModeHTTP
	default:
		mode = model.ModeTCP
	}
	if mode == model.ModeTCP {
		switch {
		case len(l.VHosts) > 0:
			return service{}, fmt.Errorf("%sVHOST needs http mode, but %sMODE is tcp", pre, pre)
		case l.Auth != nil:
			return service{}, fmt.Errorf("%sAUTH needs http mode, but %sMODE is tcp", pre, pre)
		}
		for _, x := range []struct {
			set   bool
			label string
		}{{l.Sticky, "STICKY"}, {l.HSTS, "USE_HSTS"}} {
			if x.set {
				out.note(a.ID, "%s%s: ignored, port %d is served in tcp mode", pre, x.label, i)
			}
		}
		l.Sticky, l.HSTS = false, false
	}
	if len(l.VHosts) == 0 {
		if l.RedirectToHTTPS {
			out.note(a.ID, "%sREDIRECT_TO_HTTPS: ignored, it needs %sVHOST", pre, pre)
		}
		if len(l.Paths) > 0 {
			out.note(a.ID, "%sPATH: ignored, it needs %sVHOST", pre, pre)
		}
		l.RedirectToHTTPS = false
	}
	port := servicePort
	if l.Port != 0 {
		port = l.Port
	}
	name := strings.ReplaceAll(strings.TrimPrefix(a.ID, "/"), "/", "_") + "_" + strconv.Itoa(port)
	s := service{index: i, vhosts: l.VHosts, paths: l.Paths, weight: l.BackendWeight}
	s.fe = model.Frontend{Name: name + FrontendSuffix, Bind: bind(l.BindAddr, port), Mode: mode, Default: name}
	if l.SSLCert != "" {
		cert, err := c.load(l.SSLCert)
		if err != nil {
			return service{}, fmt.Errorf("%sSSL_CERT: %w", pre, err)
		}
		s.fe.TLS = &model.TLS{Certs: []model.Cert{cert}}
		s.cert = l.SSLCert
	}
	s.be = model.Backend{Name: name, Mode: mode, Balance: l.Balance, Sticky: l.Sticky, Auth: l.Auth,
		RedirectToHTTPS: l.RedirectToHTTPS, HSTS: l.HSTS, Health: marathonCheck(hc, mode), Source: "marathon:" + a.ID,
		Servers: marathonServers(a, i, "")}
	return s, nil
}

// marathonServers are the servers of port index i of an app: the task
// address and port Marathon-LB uses (addrType ""), or those of a pool
// endpoint type.
func marathonServers(a *marathon.App, i int, addrType string) []model.Server {
	servers := []model.Server{}
	for k := range a.Tasks {
		t := &a.Tasks[k] // in Marathon's order: Normalize sorts the servers
		serves, draining := taskServes(t)
		if !serves {
			continue
		}
		ip, port := marathonAddr(a, t, i, addrType)
		if !ip.IsValid() || port <= 0 || port > 65535 {
			continue
		}
		servers = append(servers, model.Server{Key: t.ID + ":" + strconv.Itoa(i), Addr: netip.AddrPortFrom(ip, uint16(port)),
			Weight: model.DefaultWeight, Draining: draining})
	}
	return servers
}

// claimBinds gives an app's frontends their binds, or fails the app
// when one is taken (by an app first in ID order, or by :80/:443).
func claimBinds(binds map[netip.AddrPort]string, app string, svcs []service) error {
	mine := map[netip.AddrPort]bool{}
	for _, s := range svcs {
		b := s.fe.Bind
		if owner, taken := binds[b]; taken || mine[b] {
			if mine[b] {
				owner = "another port of the same app"
			}
			return fmt.Errorf("port %d binds %s, already bound by %s: set HAPROXY_%d_PORT to a free port", s.index, bindString(b), owner, s.index)
		}
		mine[b] = true
	}
	for b := range mine {
		binds[b] = "app " + app
	}
	return nil
}

// dedupeRoutes keeps one route per host and path: the highest
// HAPROXY_{n}_BACKEND_WEIGHT, then the first by app ID.
func dedupeRoutes(routes []route, out *Output) []model.Route {
	best := map[string]route{}
	var keys []string
	for _, r := range routes {
		k := r.r.Host + " " + r.r.PathPrefix
		cur, ok := best[k]
		switch {
		case !ok:
			best[k] = r
			keys = append(keys, k)
		case r.weight > cur.weight:
			best[k] = r
			loser(cur, r, out)
		default:
			loser(r, cur, out)
		}
	}
	rs := make([]model.Route, 0, len(keys))
	for _, k := range keys {
		rs = append(rs, best[k].r)
	}
	return rs
}

func loser(lost, won route, out *Output) {
	what := lost.r.Host + lost.r.PathPrefix
	out.problem(kindApp, lost.app, "HAPROXY_%d_VHOST %s is also routed to app %s (backend %s), which wins with HAPROXY_{n}_BACKEND_WEIGHT %d against %d (equal weights: the first app by ID): this route is left out",
		lost.index, what, won.app, won.r.Backend, won.weight, lost.weight)
}

// httpsCerts is the certificate set of marathon_https_in: --ssl-certs
// first, then the apps' files; nil when none is usable.
func httpsCerts(global, apps []string, c *certs, out *Output) *model.TLS {
	seen := map[string]bool{}
	var tls model.TLS
	for _, p := range global {
		if seen[p] {
			continue
		}
		seen[p] = true
		cert, err := c.load(p)
		if err != nil {
			out.problem(kindCert, CertName(p), "--ssl-certs: %v", err)
			continue
		}
		tls.Certs = append(tls.Certs, cert)
	}
	for _, p := range apps {
		if !seen[p] {
			seen[p] = true
			cert, _ := c.load(p) // loaded before: the app was served
			tls.Certs = append(tls.Certs, cert)
		}
	}
	if len(tls.Certs) == 0 {
		return nil
	}
	return &tls
}
