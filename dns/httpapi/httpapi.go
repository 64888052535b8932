package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/server"
)

// API serves the HTTP API over a set of local zones.
type API struct {
	version string
	zones   []server.Lister
	metrics http.Handler
}

// New returns the API of zones; metrics, when not nil, is served at /metrics.
func New(version string, metrics http.Handler, zones ...server.Lister) *API {
	return &API{version: version, zones: zones, metrics: metrics}
}

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+dnsapi.PathVersion, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, dnsapi.Version{Service: dnsapi.ServiceName, URL: dnsapi.ProjectURL, Version: a.version})
	})
	mux.HandleFunc("GET "+dnsapi.PathRecords, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.Records()) })
	mux.HandleFunc("GET "+dnsapi.PathHosts+"{host}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.Hosts(r.PathValue("host")))
	})
	mux.HandleFunc("GET "+dnsapi.PathServices+"{service}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.Services(r.PathValue("service")))
	})
	if a.metrics != nil {
		mux.Handle("GET "+dnsapi.PathMetrics, a.metrics)
	}
	return mux
}

// Records lists every record of every zone, zone by zone.
func (a *API) Records() []dnsapi.Record {
	out := []dnsapi.Record{}
	for _, z := range a.zones {
		for _, rr := range z.Records() {
			h := rr.Header()
			out = append(out, dnsapi.Record{Zone: z.Name(), Name: h.Name, Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl, Value: value(rr)})
		}
	}
	return out
}

// Hosts answers the A and AAAA records of host, or one empty entry.
func (a *API) Hosts(host string) []dnsapi.Host {
	name := dns.CanonicalName(host)
	var out []dnsapi.Host
	for _, ip := range a.addrs(name) {
		out = append(out, dnsapi.Host{Host: name, IP: ip})
	}
	if len(out) == 0 {
		return []dnsapi.Host{{}}
	}
	return out
}

// Services answers the SRV records of service with their targets'
// addresses (a target without addresses gives an entry with no IP), or
// one empty entry.
func (a *API) Services(service string) []dnsapi.Service {
	name := dns.CanonicalName(service)
	var out []dnsapi.Service
	for _, rr := range a.lookup(name, dns.TypeSRV) {
		srv, ok := rr.(*dns.SRV)
		if !ok {
			continue
		}
		port := strconv.Itoa(int(srv.Port))
		ips := a.addrs(dns.CanonicalName(srv.Target))
		if len(ips) == 0 {
			ips = []string{""}
		}
		for _, ip := range ips {
			out = append(out, dnsapi.Service{Service: name, Host: srv.Target, IP: ip, Port: port})
		}
	}
	if len(out) == 0 {
		return []dnsapi.Service{{}}
	}
	return out
}

// addrs are the A then AAAA addresses of name.
func (a *API) addrs(name string) []string {
	var out []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, rr := range a.lookup(name, t) {
			switch rr := rr.(type) {
			case *dns.A:
				out = append(out, rr.A.String())
			case *dns.AAAA:
				out = append(out, rr.AAAA.String())
			}
		}
	}
	return out
}

// lookup asks the zone with the longest apex containing name.
func (a *API) lookup(name string, qtype uint16) []dns.RR {
	var best server.Zone
	for _, z := range a.zones {
		if dns.IsSubDomain(z.Name(), name) && (best == nil || len(z.Name()) > len(best.Name())) {
			best = z
		}
	}
	if best == nil {
		return nil
	}
	rrs, _ := best.Lookup(name, qtype)
	return rrs
}

// value is the record's data as presentation text.
func value(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.A:
		return rr.A.String()
	case *dns.AAAA:
		return rr.AAAA.String()
	case *dns.SRV:
		return rr.Target + ":" + strconv.Itoa(int(rr.Port))
	case *dns.CNAME:
		return rr.Target
	}
	s := rr.String()
	return s[len(rr.Header().String()):]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
