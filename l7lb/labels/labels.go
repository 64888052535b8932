package labels

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/l7lb/model"
)

// Label names (after HAPROXY_{n}_).
const (
	keyGroup           = "GROUP"
	keyEnabled         = "ENABLED"
	keyVHost           = "VHOST"
	keyPath            = "PATH"
	keyMode            = "MODE"
	keyBalance         = "BALANCE"
	keyBindAddr        = "BIND_ADDR"
	keyPort            = "PORT"
	keySSLCert         = "SSL_CERT"
	keySticky          = "STICKY"
	keyRedirectToHTTPS = "REDIRECT_TO_HTTPS"
	keyUseHSTS         = "USE_HSTS"
	keyAuth            = "AUTH"
	keyBackendWeight   = "BACKEND_WEIGHT"
)

// Prefix starts every Marathon-LB label; GroupLabel is the app-level group.
const (
	Prefix     = "HAPROXY_"
	GroupLabel = "HAPROXY_GROUP"
)

// Balance algorithms a backend may use.
var balances = map[string]bool{"roundrobin": true, "leastconn": true, "source": true, "first": true, "random": true}

// Service is what the labels say about service port n of an app. Zero
// values mean "not set": the builder applies Marathon-LB's defaults.
type Service struct {
	// Groups from HAPROXY_{n}_GROUP, else HAPROXY_GROUP; nil when neither.
	Groups  []string
	Enabled bool
	VHosts  []string
	Paths   []string
	// Mode is "" when HAPROXY_{n}_MODE is not set.
	Mode    model.Mode
	Balance string
	// BindAddr is invalid for every address.
	BindAddr netip.Addr
	// Port overrides the service port when not 0.
	Port            int
	SSLCert         string
	Sticky          bool
	RedirectToHTTPS bool
	HSTS            bool
	Auth            *model.BasicAuth
	BackendWeight   int
}

// Error is one malformed label.
type Error struct {
	Label  string
	Value  string
	Reason string
}

// Error renders the error as `HAPROXY_0_PORT="x": want a port in [1, 65535]`.
func (e *Error) Error() string { return e.Label + "=" + strconv.Quote(e.Value) + ": " + e.Reason }

// Note is a label dcnet-l7lb does not support, with what to use instead.
type Note struct {
	Label string
	Hint  string
}

// String renders the note for a log line.
func (n Note) String() string { return n.Label + ": " + n.Hint }

// Parse reads the labels of service port n. strict is Marathon-LB's
// --strict-mode: a port is served only with HAPROXY_{n}_ENABLED=true.
// The error joins one *Error per malformed label; notes list the
// labels of port n that are not supported (see Notes for the rest).
func Parse(labels map[string]string, n int, strict bool) (Service, []Note, error) {
	s := Service{Enabled: !strict}
	pre := Prefix + strconv.Itoa(n) + "_"
	// One pass over the app's labels picks this port's (no key built
	// per label name: a build reads every port of every app).
	mine := map[string]string{}
	for k, v := range labels {
		if strings.HasPrefix(k, pre) {
			mine[k[len(pre):]] = v
		}
	}
	var errs []error
	var notes []Note
	bad := func(key, reason string) {
		errs = append(errs, &Error{Label: pre + key, Value: mine[key], Reason: reason})
	}
	if g, ok := labels[GroupLabel]; ok {
		s.Groups = splitList(g)
	}
	if g, ok := mine[keyGroup]; ok {
		s.Groups = splitList(g)
	}
	boolean := func(key string, dst *bool) {
		if v, ok := mine[key]; ok {
			b, err := parseBool(v)
			if err != nil {
				bad(key, err.Error())
			}
			*dst = b
		}
	}
	boolean(keyEnabled, &s.Enabled)
	boolean(keySticky, &s.Sticky)
	boolean(keyRedirectToHTTPS, &s.RedirectToHTTPS)
	boolean(keyUseHSTS, &s.HSTS)
	if v, ok := mine[keyVHost]; ok {
		for _, h := range splitList(strings.ToLower(v)) {
			if !validHost(h) {
				bad(keyVHost, fmt.Sprintf("%q is not a host name (want web.example.com or *.example.com, comma-separated)", h))
				continue
			}
			s.VHosts = append(s.VHosts, h)
		}
	}
	if v, ok := mine[keyPath]; ok {
		for _, p := range strings.Fields(v) {
			switch {
			case strings.HasPrefix(p, "-"):
				notes = append(notes, Note{Label: pre + keyPath, Hint: "path_beg flag " + p + " is ignored: paths are matched as given, case-sensitively"})
			case !strings.HasPrefix(p, "/"):
				bad(keyPath, fmt.Sprintf("%q does not start with '/' (want space-separated path prefixes)", p))
			default:
				s.Paths = append(s.Paths, p)
			}
		}
	}
	if v, ok := mine[keyMode]; ok {
		switch m := model.Mode(strings.ToLower(strings.TrimSpace(v))); m {
		case model.ModeHTTP, model.ModeTCP:
			s.Mode = m
		default:
			bad(keyMode, "want tcp or http")
		}
	}
	if v, ok := mine[keyBalance]; ok {
		if b := strings.TrimSpace(v); balances[b] {
			s.Balance = b
		} else {
			bad(keyBalance, "want roundrobin, leastconn, source, first or random")
		}
	}
	if v, ok := mine[keyBindAddr]; ok {
		switch v = strings.TrimSpace(v); v {
		case "", "*", "0.0.0.0":
		default:
			a, err := netip.ParseAddr(v)
			if err != nil || a.Zone() != "" {
				bad(keyBindAddr, "want an IP address or *")
			} else {
				s.BindAddr = a.Unmap()
			}
		}
	}
	if v, ok := mine[keyPort]; ok {
		p, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || p < 1 || p > 65535 {
			bad(keyPort, "want a port in [1, 65535]")
		} else {
			s.Port = p
		}
	}
	if v, ok := mine[keySSLCert]; ok {
		if v = strings.TrimSpace(v); !filepath.IsAbs(v) {
			bad(keySSLCert, "want the absolute path of a PEM file (certificate chain and key)")
		} else {
			s.SSLCert = filepath.Clean(v)
		}
	}
	if v, ok := mine[keyAuth]; ok {
		parts := strings.Split(v, ":")
		if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			bad(keyAuth, "want realm:user:password-hash (a crypt(3) hash, as in HAProxy's userlist)")
		} else {
			s.Auth = &model.BasicAuth{Realm: parts[0], User: parts[1], PasswordHash: parts[2]}
		}
	}
	if v, ok := mine[keyBackendWeight]; ok {
		w, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			bad(keyBackendWeight, "want an integer")
		}
		s.BackendWeight = w
	}
	if len(s.Paths) > 0 && s.BackendWeight == 0 {
		s.BackendWeight = 1 // Marathon-LB's set_path
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return s, notes, errors.Join(errs...)
}

// validHost reports whether h (lower-cased) is a host name, optionally
// "*." and a domain: dot-separated labels of [a-z0-9_-], not starting
// or ending with '-' (a hand-written check: a build checks every vhost
// of every app).
func validHost(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// parseBool is Marathon-LB's string_to_bool, with the values it read as
// false spelled out and anything else refused.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "t", "yes", "y":
		return true, nil
	case "false", "f", "no", "n", "":
		return false, nil
	}
	return false, errors.New("want true or false")
}

// splitList splits a comma list, trimming spaces and dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
