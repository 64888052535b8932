// Package dnsapi is dcnet-dns's HTTP contract: default addresses and ports
// of both modes, paths, and the JSON each path answers. dcnet-dns serves it
// (package httpapi); dcnetctl and the tests read it. It imports no daemon.
//
// Node mode (DefaultAddr):
//
//	GET /v1/version             Version {"Service":"dcnet-dns","URL":...,"Version":...}
//	GET /v1/records             []Record: every record of every local zone
//	GET /v1/hosts/{host}        []Host
//	GET /v1/services/{service}  []Service
//	GET /v1/vips                the local dcnet-l4lb's l4lbapi.PathVIPs, proxied
//	GET /v1/nodes               []cluster.NodeState: the cluster's nodes with their liveness
//	GET /metrics                Prometheus
//
// Mesos-DNS mode (DefaultMesosHTTPAddr), Mesos-DNS's own API:
//
//	GET /v1/version             Version with Service MesosDNSService
//	GET /v1/config              MesosConfig
//	GET /v1/hosts/{host}        []Host
//	GET /v1/services/{service}  []Service
//	GET /v1/axfr                AXFR
//	GET /v1/records, /metrics   as in node mode
package dnsapi

// Default addresses.
const (
	// DefaultAddr is where the per-node HTTP API listens.
	DefaultAddr = "127.0.0.1:62080"
	// MesosHTTPPort is Mesos-DNS's HTTP port.
	MesosHTTPPort = "8123"
	// DefaultMesosHTTPAddr is where Mesos-DNS mode's HTTP API listens.
	DefaultMesosHTTPAddr = "0.0.0.0:" + MesosHTTPPort
	// MesosDNSPort is the DNS port of Mesos-DNS on the masters.
	MesosDNSPort = "61053"
	// DefaultMesosListen is where Mesos-DNS mode answers DNS.
	DefaultMesosListen = "0.0.0.0:" + MesosDNSPort
)

// Paths.
const (
	PathVersion  = "/v1/version"
	PathRecords  = "/v1/records"
	PathHosts    = "/v1/hosts/"    // + host
	PathServices = "/v1/services/" // + service
	PathVIPs     = "/v1/vips"
	PathNodes    = "/v1/nodes"
	PathConfig   = "/v1/config"
	PathAXFR     = "/v1/axfr"
	PathMetrics  = "/metrics"
)

// ServiceName is the Service field of /v1/version.
const ServiceName = "dcnet-dns"

// ProjectURL is the URL field of /v1/version.
const ProjectURL = "https://github.com/dcnet/dcnet"

// Version is what /v1/version answers.
type Version struct {
	Service string
	URL     string
	Version string
}

// Host is one entry of /v1/hosts.
type Host struct {
	Host string `json:"host"`
	IP   string `json:"ip"`
}

// Service is one entry of /v1/services.
type Service struct {
	Service string `json:"service"`
	Host    string `json:"host"`
	IP      string `json:"ip"`
	Port    string `json:"port"`
}

// Record is one entry of /v1/records.
type Record struct {
	Zone  string `json:"zone"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	TTL   uint32 `json:"ttl"`
	Value string `json:"value"`
}

// MesosDNSService is the Service field of /v1/version in Mesos-DNS mode,
// as Mesos-DNS reports it, for clients that check it.
const MesosDNSService = "Mesos-DNS"

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
