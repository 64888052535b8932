// Package build turns the sources' views into the desired state of one
// HAProxy instance (a model.Config): Marathon apps with Marathon-LB's
// labels (MarathonLB), or one Edge-LB-style pool whose backends select
// Marathon apps, Mesos tasks, dcnet VIPs and endpoint records (Pool).
//
// It is pure and deterministic: the same Inputs give the same Config
// (every list sorted, names derived from IDs), so the applier can diff
// two Configs. Bad input never fails a build: the app, frontend,
// backend or certificate at fault is left out and named in
// Config.Problems with the reason, and the rest is built.
//
// # Marathon-LB mode
//
// As Marathon-LB's config(): per service port of every app in the
// groups served, a backend named like Marathon-LB's (<app id without the
// first '/' and with '/' -> '_'>_<port>) and a frontend bound like
// Marathon-LB's (HAPROXY_{n}_BIND_ADDR and the service port or
// HAPROXY_{n}_PORT), named like the backend plus FrontendSuffix; vhosts become routes of marathon_http_in (:80, Host) and
// marathon_https_in (:443, SNI, when certificates exist). Unlike
// Marathon-LB, an app scaled to zero keeps its frontend and backend
// (HAProxy answers 503), so scaling back needs no reload.
//
// Servers: tasks in TASK_STAGING, TASK_STARTING or a terminal state are
// left out, TASK_LOST and TASK_UNREACHABLE kept (as Marathon-LB);
// TASK_KILLING tasks and tasks whose every Marathon health result is
// "not alive" are kept draining. A server's Key is the task ID and the
// port index, so it keeps its slot across changes.
//
// Health checks come from the app's Marathon health check of the port:
// HTTP and MESOS_HTTP in http mode check GET path, anything else but
// COMMAND a TCP connect; interval and timeout are Marathon's, fall is
// maxConsecutiveFailures + 1 (Marathon-LB's healthCheckFalls).
package build

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/mesos"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/marathon"
	"github.com/dcnet/dcnet/l7lb/model"
)

// Problem kinds.
const (
	kindApp      = "app"
	kindFrontend = "frontend"
	kindBackend  = "backend"
	kindCert     = "cert"
	kindPool     = "pool"
)

// Inputs are the sources' views; a source that is not configured is
// empty.
type Inputs struct {
	// Apps are the Marathon apps with their tasks, hosts resolved.
	Apps []marathon.App
	// Tasks are the Mesos tasks of every framework.
	Tasks []mesos.Summary
	// Endpoints are dcnet's endpoint records (CNI and Docker containers).
	Endpoints []cluster.Endpoint
	// VIPs are the backends of dcnet's VIPs (endpoint records' labels and
	// the Mesos agents' records).
	VIPs []vip.Binding
	// ReadFile reads a certificate file; nil reads none (every
	// certificate is a Problem).
	ReadFile func(path string) ([]byte, error)
}

// Output is a built configuration with the notes to log.
type Output struct {
	Config model.Config
	// Notes are, per app ID, the labels that were ignored and why (to be
	// logged once per app, not a Problem: the app is served).
	Notes map[string][]string
}

func (o *Output) problem(kind, name, format string, args ...any) {
	o.Config.Problems = append(o.Config.Problems, model.Problem{Kind: kind, Name: name, Reason: fmt.Sprintf(format, args...)})
}

func (o *Output) note(app, format string, args ...any) {
	if o.Notes == nil {
		o.Notes = map[string][]string{}
	}
	o.Notes[app] = append(o.Notes[app], fmt.Sprintf(format, args...))
}

// excluded task states: not (yet or any more) serving, as Marathon-LB's
// EXCLUDED_TASK_STATES minus TASK_KILLING, which drains.
var excluded = map[string]bool{
	"TASK_STAGING": true, "TASK_STARTING": true, "TASK_FINISHED": true, "TASK_FAILED": true,
	"TASK_KILLED": true, "TASK_ERROR": true, "TASK_DROPPED": true, "TASK_GONE": true,
	"TASK_GONE_BY_OPERATOR": true, "TASK_UNKNOWN": true,
}

// taskServes reports whether a Marathon task gets a server, and whether
// it drains (being killed, or failing every Marathon health check).
func taskServes(t *marathon.Task) (serves, draining bool) {
	if excluded[t.State] || t.Host == "" {
		return false, false
	}
	draining = t.State == "TASK_KILLING"
	if len(t.HealthCheckResults) > 0 {
		alive := false
		for _, r := range t.HealthCheckResults {
			alive = alive || r.Alive
		}
		draining = draining || !alive
	}
	return true, draining
}

// marathonCheck turns a Marathon health check into HAProxy's.
func marathonCheck(hc *marathon.HealthCheck, mode model.Mode) *model.HealthCheck {
	if hc == nil || marathon.IsCommandCheck(hc) {
		return nil
	}
	out := &model.HealthCheck{
		Interval: time.Duration(hc.IntervalSeconds) * time.Second,
		Timeout:  time.Duration(hc.TimeoutSeconds) * time.Second,
	}
	if hc.MaxConsecutiveFailures > 0 {
		out.Fall = hc.MaxConsecutiveFailures + 1
	}
	if mode == model.ModeHTTP && marathon.IsHTTPCheck(hc) {
		out.HTTP, out.Path = true, hc.Path
		if out.Path == "" {
			out.Path = "/"
		}
	}
	return out
}

// poolCheck turns a pool's health check into HAProxy's.
func poolCheck(hc *l7lbapi.HealthCheck) *model.HealthCheck {
	if hc == nil {
		return nil
	}
	return &model.HealthCheck{HTTP: hc.Protocol == l7lbapi.ProtoHTTP, Path: hc.Path,
		Interval: time.Duration(hc.IntervalSeconds) * time.Second, Timeout: time.Duration(hc.TimeoutSeconds) * time.Second,
		Rise: hc.Rise, Fall: hc.Fall}
}

// certs reads and checks certificate files; bad ones are Problems.
type certs struct {
	read func(string) ([]byte, error)
	// cache holds each path's result within one build.
	cache map[string]certResult
}

type certResult struct {
	cert model.Cert
	err  error
}

func newCerts(read func(string) ([]byte, error)) *certs {
	return &certs{read: read, cache: map[string]certResult{}}
}

// load reads path and checks that it holds a certificate chain and the
// matching private key.
func (c *certs) load(path string) (model.Cert, error) {
	if r, ok := c.cache[path]; ok {
		return r.cert, r.err
	}
	r := certResult{cert: model.Cert{Name: CertName(path)}}
	switch {
	case c.read == nil:
		r.err = fmt.Errorf("certificate %s: no files can be read", path)
	default:
		data, err := c.read(path)
		switch {
		case err != nil:
			r.err = fmt.Errorf("certificate %s: %w", path, err)
		default:
			if _, err := tls.X509KeyPair(data, data); err != nil {
				r.err = fmt.Errorf("certificate %s: want a PEM certificate chain and its private key in one file: %w", path, err)
			}
			r.cert.PEM = data
		}
	}
	c.cache[path] = r
	return r.cert, r.err
}

// CertName is the name of the certificate read from path: the path
// with '/' as '_' ("/etc/ssl/web.pem" -> "etc_ssl_web.pem"), unique per
// file.
func CertName(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "_")
}

// bind is the model's bind of addr:port; an invalid or unspecified addr
// is every address.
func bind(addr netip.Addr, port int) netip.AddrPort {
	if addr.IsValid() && addr.IsUnspecified() && addr.Is4() {
		addr = netip.Addr{}
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// bindString renders a bind for problems ("*:80").
func bindString(b netip.AddrPort) string {
	if !b.Addr().IsValid() {
		return fmt.Sprintf("*:%d", b.Port())
	}
	return b.String()
}
