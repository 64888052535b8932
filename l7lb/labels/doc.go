// Package labels parses Marathon-LB's app labels (mesosphere/marathon-lb
// config.py is the reference), so that apps labelled for Marathon-LB are
// served by dcnet-l7lb unchanged. It is pure logic: labels in, one
// Service per service port out, with an error per malformed label and a
// Note per label dcnet-l7lb does not support.
//
// # Labels
//
// App level: HAPROXY_GROUP (comma list). Per service port n (0-based):
//
//	HAPROXY_{n}_GROUP              comma list; overrides HAPROXY_GROUP for port n
//	HAPROXY_{n}_ENABLED            true/false; the default is true, false with --strict-mode
//	HAPROXY_{n}_VHOST              comma list of host names: Host ACL on :80, SNI on :443
//	HAPROXY_{n}_PATH               space-separated path prefixes (with a vhost)
//	HAPROXY_{n}_MODE               tcp or http; default http with a vhost or an HTTP
//	                               health check, else tcp (decided by the builder)
//	HAPROXY_{n}_BALANCE            roundrobin (default), leastconn, source, first, random
//	HAPROXY_{n}_BIND_ADDR          address of the app's own frontend (default every address)
//	HAPROXY_{n}_PORT               port of the app's own frontend (default the service port)
//	HAPROXY_{n}_SSL_CERT           PEM file: the app's frontend terminates TLS; also
//	                               offered by SNI on :443
//	HAPROXY_{n}_STICKY             true: a cookie pins a client to a server (http)
//	HAPROXY_{n}_REDIRECT_TO_HTTPS  true: plain HTTP to the vhosts is redirected (needs a vhost)
//	HAPROXY_{n}_USE_HSTS           true: Strict-Transport-Security on answers (http)
//	HAPROXY_{n}_AUTH               realm:user:crypt-hash, HTTP basic auth (http)
//	HAPROXY_{n}_BACKEND_WEIGHT     integer; the higher wins when two apps claim the same
//	                               vhost and path
//
// Booleans are Marathon-LB's: true, t, yes, y (any case) are true; false,
// f, no, n and the empty string are false; anything else is an error
// here (Marathon-LB read it as false).
//
// # Not supported
//
// Per-app template overrides (HAPROXY_{n}_FRONTEND_HEAD,
// HAPROXY_{n}_BACKEND_HEAD and the other HAPROXY_{n}_<TEMPLATE> labels),
// HAPROXY_{n}_BIND_OPTIONS, the proxy-pass, reverse-proxy and redirect
// path labels, network ACLs, the health-check port index and the
// zero-downtime-deployment labels (HAPROXY_DEPLOYMENT_*) are not
// supported: each gives a Note saying what to use instead, and the rest
// of the app is served as if the label were absent.
package labels
