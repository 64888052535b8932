package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/records"
)

// Snapshotter gives the Mesos-DNS records being served.
type Snapshotter interface {
	// Snapshot returns the current records (never nil, not to be modified)
	// and the zone's serial, which grows whenever the records change.
	Snapshot() (rs *records.RecordSet, serial uint32)
}

// MesosAPI serves Mesos-DNS's HTTP API (port 8123) over generated records.
type MesosAPI struct {
	// NoAXFR leaves /v1/axfr out (Mesos-DNS's EnumerationOn false); set
	// before Handler.
	NoAXFR  bool
	version string
	config  dnsapi.MesosConfig
	src     Snapshotter
	metrics http.Handler
	// extra serves /v1/records over the same zone, as the per-node API.
	extra *API
}

// NewMesos returns the Mesos-DNS API of src, answering cfg at /v1/config;
// metrics, when not nil, is served at /metrics and api, when not nil,
// adds its /v1/records.
func NewMesos(version string, cfg dnsapi.MesosConfig, src Snapshotter, metrics http.Handler, api *API) *MesosAPI {
	return &MesosAPI{version: version, config: cfg, src: src, metrics: metrics, extra: api}
}

// Handler returns the API's routes.
func (a *MesosAPI) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+dnsapi.PathVersion, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, dnsapi.Version{Service: dnsapi.MesosDNSService, URL: dnsapi.ProjectURL, Version: a.version})
	})
	mux.HandleFunc("GET "+dnsapi.PathConfig, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.config) })
	if !a.NoAXFR {
		mux.HandleFunc("GET "+dnsapi.PathAXFR, a.serveAXFR)
	}
	mux.HandleFunc("GET "+dnsapi.PathHosts+"{host}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.Hosts(r.PathValue("host")))
	})
	mux.HandleFunc("GET "+dnsapi.PathHosts+"{host}/ports", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "To be implemented...", http.StatusNotImplemented)
	})
	mux.HandleFunc("GET "+dnsapi.PathServices+"{service}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.Services(r.PathValue("service")))
	})
	if a.extra != nil {
		mux.HandleFunc("GET "+dnsapi.PathRecords, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.extra.Records()) })
	}
	if a.metrics != nil {
		mux.Handle("GET "+dnsapi.PathMetrics, a.metrics)
	}
	return mux
}

// serveAXFR answers /v1/axfr with the zone's serial as its ETag, and 304
// Not Modified to a request that names it in If-None-Match: every node
// polls it (package axfrzone), and an unchanged zone then costs no body.
func (a *MesosAPI) serveAXFR(w http.ResponseWriter, r *http.Request) {
	_, serial := a.src.Snapshot()
	etag := `"` + strconv.FormatUint(uint64(serial), 10) + `"`
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, a.AXFR())
}

// AXFR renders the whole zone.
func (a *MesosAPI) AXFR() dnsapi.AXFR {
	rs, serial := a.src.Snapshot()
	return dnsapi.AXFR{
		TTL:            a.config.TTL,
		Serial:         serial,
		RefreshSeconds: a.config.RefreshSeconds,
		Mname:          a.config.SOAMname,
		Rname:          a.config.SOARname,
		Domain:         a.config.Domain,
		Records: dnsapi.AXFRRecords{
			As:    rs.Strings(records.TypeA),
			AAAAs: rs.Strings(records.TypeAAAA),
			SRVs:  rs.Strings(records.TypeSRV),
		},
	}
}

// mesosName is a host or service name as Mesos-DNS cleans it: wildcards
// (".*") dropped, lower-case, trailing dot.
func mesosName(s string) string {
	return records.CanonicalName(strings.ReplaceAll(s, ".*", ""))
}

// Hosts answers the A records of host, then its AAAA records (an
// extension: Mesos-DNS lists only A), or one empty entry.
func (a *MesosAPI) Hosts(host string) []dnsapi.Host {
	rs, _ := a.src.Snapshot()
	name := mesosName(host)
	var out []dnsapi.Host
	for _, t := range []records.Type{records.TypeA, records.TypeAAAA} {
		recs, _ := rs.Lookup(name, t)
		for _, r := range recs {
			out = append(out, dnsapi.Host{Host: name, IP: r.Addr.String()})
		}
	}
	if len(out) == 0 {
		return []dnsapi.Host{{}}
	}
	return out
}

// Services answers the SRV records of service, each with the first A
// address of its target (empty when it has none), or one empty entry. The
// service field echoes the name as asked, as Mesos-DNS does.
func (a *MesosAPI) Services(service string) []dnsapi.Service {
	rs, _ := a.src.Snapshot()
	recs, _ := rs.Lookup(mesosName(service), records.TypeSRV)
	var out []dnsapi.Service
	for _, r := range recs {
		ip := ""
		if as, _ := rs.Lookup(r.SRV.Target, records.TypeA); len(as) > 0 {
			ip = as[0].Addr.String()
		}
		host, port, _ := net.SplitHostPort(r.SRV.String())
		out = append(out, dnsapi.Service{Service: service, Host: host, IP: ip, Port: port})
	}
	if len(out) == 0 {
		return []dnsapi.Service{{}}
	}
	return out
}
