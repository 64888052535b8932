// Package l7lbapi is the contract of dcnet-l7lb's HTTP API and of its
// Edge-LB-style pools: the pool document (Pool), how it is parsed from
// JSON or YAML and validated (ParsePool names every wrong field at once),
// the HTTP paths and default address, the status and error bodies, and a
// small client (Client) used by dcnetctl. It imports no daemon, so a
// client of dcnet-l7lb never links the daemon, etcd's server or
// nftables.
//
// # Pools
//
// A pool is a named set of frontends and backends served by every
// `dcnet-l7lb --pool NAME` instance (several instances of one pool on
// different nodes serve the same document). The document keeps Edge-LB's
// V2 names where dcnet supports the feature, so an Edge-LB pool ports
// over with few edits:
//
//	apiVersion: V2
//	name: web
//	haproxy:
//	  frontends:
//	  - bindPort: 80
//	    protocol: HTTP
//	    redirectToHttps: false
//	    linkBackend:
//	      defaultBackend: web
//	      map:
//	      - {hostEq: api.example.com, pathBeg: /v1, backend: api}
//	  - bindPort: 443
//	    protocol: HTTPS
//	    certificates: [/etc/dcnet/certs/web.pem]
//	    linkBackend: {defaultBackend: web}
//	  backends:
//	  - name: web
//	    protocol: HTTP
//	    balance: roundrobin
//	    healthCheck: {protocol: HTTP, path: /health, intervalSeconds: 5}
//	    services:
//	    - marathon: {serviceID: /web}
//	      endpoint: {portName: http}
//	      weight: 9
//	    - marathon: {serviceID: /web-canary}
//	      endpoint: {portName: http}
//	      weight: 1
//	  - name: api
//	    protocol: HTTP
//	    services:
//	    - mesos: {frameworkName: hello-world, taskNamePattern: "^api-[0-9]+$"}
//	      endpoint: {portName: http, type: CONTAINER_IP}
//	    - vip: /api:8080
//	    - endpointLabel: {key: app, value: api}
//	      endpoint: {port: 8080}
//
// Edge-LB's placement fields (count, role, constraints, cpus, mem, ...)
// are accepted and ignored with a warning: dcnet-l7lb instances are
// placed by the operator. Certificates are PEM files (chain and key) on
// every node that runs the pool; their contents may change at any time
// and are picked up without a restart.
//
// Pools are stored in etcd under /dcnet/v1/l7/pools/<name> as the
// normalized JSON document (defaults filled in).
package l7lbapi
