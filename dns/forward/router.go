package forward

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Forwarder is what a Router routes to; *Group implements it.
type Forwarder interface {
	Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error)
}

// Router forwards each question to the forwarder of the longest zone
// containing its name, else to the default. It is read-only after
// construction and safe for concurrent use.
type Router struct {
	zones map[string]Forwarder
	def   Forwarder
}

// NewRouter routes names under each zone of zones (any case, trailing dot
// optional) to its forwarder and the rest to def (nil: fail).
func NewRouter(def Forwarder, zones map[string]Forwarder) *Router {
	r := &Router{zones: map[string]Forwarder{}, def: def}
	for z, f := range zones {
		r.zones[dns.CanonicalName(z)] = f
	}
	return r
}

// Forward implements the handler's Forwarder.
func (r *Router) Forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	f := r.Route(req.Question[0].Name)
	if f == nil {
		return nil, ErrNoUpstream
	}
	return f.Forward(ctx, req)
}

// Route is the forwarder for name.
func (r *Router) Route(name string) Forwarder {
	name = dns.CanonicalName(name)
	best, bestLen := r.def, -1
	for z, f := range r.zones {
		if dns.IsSubDomain(z, name) && len(z) > bestLen {
			best, bestLen = f, len(z)
		}
	}
	return best
}

// ReadResolvConf returns the nameservers of a resolv.conf file as
// "ip:port" (port 53, or the file's "port" option as dns.ClientConfig does).
func ReadResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read resolv.conf: %w", err)
	}
	defer f.Close()
	cc, err := dns.ClientConfigFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("parse resolv.conf %s: %w", path, err)
	}
	out := make([]string, 0, len(cc.Servers))
	for _, s := range cc.Servers {
		s = strings.TrimSuffix(strings.SplitN(s, "%", 2)[0], "]")
		s = strings.TrimPrefix(s, "[")
		out = append(out, JoinHostPort(s, cc.Port))
	}
	return out, nil
}

// JoinHostPort joins an IP and a port, bracketing IPv6; a bad port means 53.
func JoinHostPort(host, port string) string {
	if _, err := strconv.Atoi(port); err != nil || port == "" {
		port = "53"
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}
