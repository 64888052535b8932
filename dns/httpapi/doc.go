// Package httpapi is dcnet-dns's HTTP API (127.0.0.1:62080 by default):
//
//	GET /v1/version             {"Service":"dcnet-dns","URL":...,"Version":...}
//	GET /v1/records             every record of every local zone
//	GET /v1/hosts/{host}        [{"host":"web.marathon.l4lb.thisdcos.directory.","ip":"11.0.0.1"}]
//	GET /v1/services/{service}  [{"service":...,"host":...,"ip":...,"port":"31000"}]
//	GET /metrics                Prometheus (package metrics)
//
// WithClusterRoutes adds what dcos-net served on the same port:
//
//	GET /v1/vips                the local dcnet-l4lb's /v1/vips, proxied (502 when it does not answer)
//	GET /v1/nodes               the cluster's nodes with their liveness, read from etcd (503 without)
//
// Hosts and services are answered from the local zones only (as Mesos-DNS
// answers from its own records), read fresh through Zone.Lookup. The
// shapes follow Mesos-DNS's API: a name without records answers one entry
// of empty strings rather than an empty list, and SRV ports are strings.
//
// MesosAPI is the API of dcnet-dns --mode mesos-dns (0.0.0.0:8123 by
// default), Mesos-DNS's own over the generated mesos. records:
//
//	GET /v1/version             {"Service":"Mesos-DNS","URL":...,"Version":...}
//	GET /v1/config              Mesos-DNS's configuration document (MesosConfig)
//	GET /v1/hosts/{host}        A (then AAAA) records of a name
//	GET /v1/services/{service}  SRV records with their target's first A address
//	GET /v1/axfr                {"TTL":..,"Serial":..,"RefreshSeconds":..,"Mname":..,"Rname":..,
//	                             "Domain":"mesos","Records":{"As":{},"AAAAs":{},"SRVs":{}}}
//	GET /v1/records, /metrics   as above
//
// Serve runs either on its address until the daemon's context ends.
package httpapi
