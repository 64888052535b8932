package l7lbapi

import (
	"time"

	"github.com/dcnet/dcnet/l7lb/model"
)

// DefaultHTTPAddr is where dcnet-l7lb serves its API unless told
// otherwise: loopback, since the pools API writes to the cluster store.
const DefaultHTTPAddr = "127.0.0.1:62085"

// Paths of dcnet-l7lb's HTTP API.
const (
	// PathStatus: GET -> Status.
	PathStatus = "/v1/status"
	// PathHealth: GET -> 200 "ok" while the last successful sync is
	// recent, 503 with the reason otherwise.
	PathHealth = "/v1/health"
	// PathPools: GET -> []PoolEntry; POST a pool document (JSON or YAML)
	// -> 201 PoolEntry, 409 when it exists, 400 ErrorBody with Fields.
	PathPools = "/v1/pools"
	// PathPool + NAME: GET -> PoolEntry; PUT a document -> PoolEntry
	// (404 when absent); DELETE -> 204 (404 when absent).
	PathPool = "/v1/pools/"
	// PathMetrics: Prometheus.
	PathMetrics = "/metrics"
	// PathMLBHealth is Marathon-LB's health check path: the same answer
	// as PathHealth.
	PathMLBHealth = "/_haproxy_health_check"
	// PathMLBConfig is Marathon-LB's path of the running haproxy.cfg.
	PathMLBConfig = "/_haproxy_getconfig"
)

// Content types of pool documents.
const (
	ContentJSON = "application/json"
	ContentYAML = "application/yaml"
)

// PoolEntry is a stored pool with its etcd revision.
type PoolEntry struct {
	Pool Pool `json:"pool"`
	// Revision is the etcd modification revision of the document.
	Revision int64 `json:"revision"`
	// Warnings are the fields of the submitted document that were
	// ignored (only in answers to POST and PUT).
	Warnings []string `json:"warnings,omitempty"`
}

// Error codes of ErrorBody.
const (
	CodeInvalid     = "invalid"     // the document or request is malformed: see Fields
	CodeNotFound    = "not_found"   // no such pool
	CodeExists      = "exists"      // POST of a pool that exists: use PUT
	CodeUnavailable = "unavailable" // the cluster store cannot be reached, or no store configured
	CodeInternal    = "internal"
)

// ErrorBody is the JSON body of every non-2xx answer.
type ErrorBody struct {
	Code  string `json:"code"`
	Error string `json:"error"`
	// Fields lists every wrong field of an invalid document.
	Fields []FieldError `json:"fields,omitempty"`
}

// Modes of a dcnet-l7lb instance.
const (
	ModeMarathonLB = "marathon-lb" // Marathon apps with Marathon-LB's labels, by --group
	ModePool       = "pool"        // one pool (--pool)
)

// Status is what one dcnet-l7lb instance serves and how fresh it is.
type Status struct {
	Mode string `json:"mode"`
	// Pool is the pool served (pool mode); Groups the Marathon-LB
	// groups (Marathon-LB mode).
	Pool    string    `json:"pool,omitempty"`
	Groups  []string  `json:"groups,omitempty"`
	Started time.Time `json:"started"`
	// LastSync is when a configuration built from synced sources was
	// last applied; zero when never.
	LastSync time.Time `json:"lastSync"`
	// Healthy is false when LastSync is older than the staleness bound
	// (Reason says why).
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
	// Applies counts successful applies, Reloads those that reloaded
	// HAProxy, RuntimeChanges the runtime-API commands they sent.
	Applies        int    `json:"applies"`
	Reloads        int    `json:"reloads"`
	RuntimeChanges int    `json:"runtimeChanges"`
	LastApplyError string `json:"lastApplyError,omitempty"`
	// FromDisk is true while the configuration served is the one saved
	// on local disk (the sources have not synced since the start).
	FromDisk  bool             `json:"fromDisk,omitempty"`
	Sources   []SourceStatus   `json:"sources"`
	Frontends []FrontendStatus `json:"frontends"`
	Backends  []BackendStatus  `json:"backends"`
	// Problems are the inputs left out (an app with bad labels, a
	// frontend HAProxy refused), from the builder and the applier.
	Problems []model.Problem `json:"problems"`
}

// SourceStatus is the state of one source of truth.
type SourceStatus struct {
	// Name is "marathon", "mesos", "endpoints", "pool".
	Name string `json:"name"`
	// Synced is true once the source has delivered a full view.
	Synced bool `json:"synced"`
	// LastSync is when the source last confirmed its full view (a full
	// read, or a live stream).
	LastSync time.Time `json:"lastSync"`
	// Errors counts failures since the start; LastError is the latest.
	Errors      int       `json:"errors"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitempty"`
	// Detail says where the source reads from right now.
	Detail string `json:"detail,omitempty"`
}

// FrontendStatus is one served frontend.
type FrontendStatus struct {
	Name    string `json:"name"`
	Bind    string `json:"bind"`
	Mode    string `json:"mode"`
	TLS     bool   `json:"tls,omitempty"`
	Routes  int    `json:"routes"`
	Default string `json:"default,omitempty"`
}

// BackendStatus is one served backend.
type BackendStatus struct {
	Name     string `json:"name"`
	Source   string `json:"source,omitempty"`
	Servers  int    `json:"servers"`
	Draining int    `json:"draining"`
}
