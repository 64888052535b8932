package httpapi

import (
	"net"
	"net/http"
	"strings"

	"github.com/dcnet/dcnet/dns/records"
)

// MesosDNSService is the Service field of /v1/version in Mesos-DNS mode,
// as Mesos-DNS reports it, for clients that check it.
const MesosDNSService = "Mesos-DNS"

// MesosConfig is what /v1/config answers in Mesos-DNS mode: Mesos-DNS's
// configuration document, field for field, filled from dcnet-dns's flags.
type MesosConfig struct {
	Masters        []string
	RefreshSeconds int
	TTL            int32
	Port           int
	Domain         string
	Resolvers      []string
	Timeout        int
	SOAMname       string
	SOARname       string
	SOARefresh     uint32
	SOARetry       uint32
	SOAExpire      uint32
	SOAMinttl      uint32
	RecurseOn      bool
	Listener       string
	HTTPPort       int  `json:"HttpPort"`
	DNSOn          bool `json:"DnsOn"`
	HTTPOn         bool `json:"HttpOn"`
	ExternalOn     bool
	EnforceRFC952  bool
	IPSources      []string
}

// AXFR is what /v1/axfr answers: the whole zone as Mesos-DNS renders it.
type AXFR struct {
	TTL            int32
	Serial         uint32
	RefreshSeconds int
	Mname          string
	Rname          string
	Domain         string
	Records        AXFRRecords
}

// AXFRRecords maps names to sorted values: addresses, and "target:port"
// for SRVs.
type AXFRRecords struct {
	As    map[string][]string
	AAAAs map[string][]string
	SRVs  map[string][]string
}

// Snapshotter gives the Mesos-DNS records being served.
type Snapshotter interface {
	// Snapshot returns the current records (never nil, not to be modified)
	// and the zone's serial, which grows whenever the records change.
	Snapshot() (rs *records.RecordSet, serial uint32)
}

// MesosAPI serves Mesos-DNS's HTTP API (port 8123) over generated records.
type MesosAPI struct {
	version string
	config  MesosConfig
	src     Snapshotter
	metrics http.Handler
	// extra serves /v1/records over the same zone, as the per-node API.
	extra *API
}

// NewMesos returns the Mesos-DNS API of src, answering cfg at /v1/config;
// metrics, when not nil, is served at /metrics and api, when not nil,
// adds its /v1/records.
func NewMesos(version string, cfg MesosConfig, src Snapshotter, metrics http.Handler, api *API) *MesosAPI {
	return &MesosAPI{version: version, config: cfg, src: src, metrics: metrics, extra: api}
}

// Handler returns the API's routes.
func (a *MesosAPI) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, Version{Service: MesosDNSService, URL: projectURL, Version: a.version})
	})
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.config) })
	mux.HandleFunc("GET /v1/axfr", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.AXFR()) })
	mux.HandleFunc("GET /v1/hosts/{host}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.Hosts(r.PathValue("host")))
	})
	mux.HandleFunc("GET /v1/hosts/{host}/ports", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "To be implemented...", http.StatusNotImplemented)
	})
	mux.HandleFunc("GET /v1/services/{service}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.Services(r.PathValue("service")))
	})
	if a.extra != nil {
		mux.HandleFunc("GET /v1/records", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.extra.Records()) })
	}
	if a.metrics != nil {
		mux.Handle("GET /metrics", a.metrics)
	}
	return mux
}

// AXFR renders the whole zone.
func (a *MesosAPI) AXFR() AXFR {
	rs, serial := a.src.Snapshot()
	return AXFR{
		TTL:            a.config.TTL,
		Serial:         serial,
		RefreshSeconds: a.config.RefreshSeconds,
		Mname:          a.config.SOAMname,
		Rname:          a.config.SOARname,
		Domain:         a.config.Domain,
		Records: AXFRRecords{
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
func (a *MesosAPI) Hosts(host string) []Host {
	rs, _ := a.src.Snapshot()
	name := mesosName(host)
	var out []Host
	for _, t := range []records.Type{records.TypeA, records.TypeAAAA} {
		recs, _ := rs.Lookup(name, t)
		for _, r := range recs {
			out = append(out, Host{Host: name, IP: r.Addr.String()})
		}
	}
	if len(out) == 0 {
		return []Host{{}}
	}
	return out
}

// Services answers the SRV records of service, each with the first A
// address of its target (empty when it has none), or one empty entry. The
// service field echoes the name as asked, as Mesos-DNS does.
func (a *MesosAPI) Services(service string) []Service {
	rs, _ := a.src.Snapshot()
	recs, _ := rs.Lookup(mesosName(service), records.TypeSRV)
	var out []Service
	for _, r := range recs {
		ip := ""
		if as, _ := rs.Lookup(r.SRV.Target, records.TypeA); len(as) > 0 {
			ip = as[0].Addr.String()
		}
		host, port, _ := net.SplitHostPort(r.SRV.String())
		out = append(out, Service{Service: service, Host: host, IP: ip, Port: port})
	}
	if len(out) == 0 {
		return []Service{{}}
	}
	return out
}
