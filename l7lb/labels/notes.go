package labels

import (
	"sort"
	"strconv"
	"strings"
)

// supported are the per-port labels Parse reads.
var supported = map[string]bool{
	keyGroup: true, keyEnabled: true, keyVHost: true, keyPath: true, keyMode: true, keyBalance: true,
	keyBindAddr: true, keyPort: true, keySSLCert: true, keySticky: true, keyRedirectToHTTPS: true,
	keyUseHSTS: true, keyAuth: true, keyBackendWeight: true,
}

const templateHint = "per-app HAProxy templates are not supported: dcnet-l7lb renders and validates the whole configuration; " +
	"use the HAPROXY_{n}_MODE, _BALANCE, _STICKY, _AUTH, _REDIRECT_TO_HTTPS and _USE_HSTS labels, or an Edge-LB-style pool"

// unsupported are Marathon-LB's per-port labels dcnet-l7lb does not
// implement, with what to use instead.
var unsupported = map[string]string{
	"BIND_OPTIONS":                   "extra bind options are not supported: use HAPROXY_{n}_SSL_CERT for TLS; ciphers and protocols are dcnet-l7lb's defaults",
	"HTTP_BACKEND_PROXYPASS_PATH":    "path rewriting is not supported: serve the app under the path it is reached by",
	"HTTP_BACKEND_REVPROXY_PATH":     "Location rewriting is not supported: let the app emit its public URLs",
	"HTTP_BACKEND_REDIR":             "root redirects are not supported: redirect in the app",
	"BACKEND_NETWORK_ALLOWED_ACL":    "source-address ACLs are not supported: restrict access with firewall rules in front of the balancer",
	"BACKEND_HEALTHCHECK_PORT_INDEX": "checks on another port are not supported: the app's own Marathon health check of this port is used",
}

// templates are the per-app template overrides of Marathon-LB.
var templates = map[string]bool{
	"FRONTEND_HEAD": true, "USERLIST_HEAD": true, "BACKEND_REDIRECT_HTTP_TO_HTTPS": true,
	"BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH": true, "BACKEND_HEAD": true, "HTTP_FRONTEND_ACL": true,
	"MAP_HTTP_FRONTEND_ACL": true, "HTTP_FRONTEND_ACL_ONLY": true, "MAP_HTTP_FRONTEND_ACL_ONLY": true,
	"HTTP_FRONTEND_ROUTING_ONLY": true, "HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH": true,
	"HTTP_FRONTEND_ACL_WITH_AUTH": true, "HTTP_FRONTEND_ACL_WITH_PATH": true,
	"HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH": true, "HTTP_FRONTEND_ACL_ONLY_WITH_PATH": true,
	"HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH": true, "HTTPS_FRONTEND_ACL_ONLY_WITH_PATH": true,
	"HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH": true, "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH": true,
	"HTTP_FRONTEND_APPID_ACL": true, "MAP_HTTP_FRONTEND_APPID_ACL": true, "HTTPS_FRONTEND_ACL": true,
	"MAP_HTTPS_FRONTEND_ACL": true, "HTTPS_FRONTEND_ACL_WITH_AUTH": true, "HTTPS_FRONTEND_ACL_WITH_PATH": true,
	"HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH": true, "BACKEND_HTTP_OPTIONS": true,
	"HTTP_BACKEND_PROXYPASS_GLUE": true, "HTTP_BACKEND_REVPROXY_GLUE": true, "BACKEND_HSTS_OPTIONS": true,
	"BACKEND_HTTP_HEALTHCHECK_OPTIONS": true, "BACKEND_TCP_HEALTHCHECK_OPTIONS": true,
	"BACKEND_STICKY_OPTIONS": true, "BACKEND_SERVER_OPTIONS": true,
	"BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS": true, "BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS": true,
	"FRONTEND_BACKEND_GLUE": true, "HTTP_BACKEND_NETWORK_ALLOWED_ACL": true, "TCP_BACKEND_NETWORK_ALLOWED_ACL": true,
}

const deploymentHint = "zero-downtime deployments with zdd.py are not supported: each app is served on its own; " +
	"deploy with Marathon's rolling upgrade (dcnet-l7lb drains TASK_KILLING tasks) or shift traffic with a pool's weights"

// Notes lists every HAPROXY_ label of an app with ports service ports
// that Parse does not read: unsupported labels, template overrides,
// labels of a port the app does not have and unknown names, sorted by
// label. The app is served as if they were absent.
func Notes(labels map[string]string, ports int) []Note {
	var out []Note
	for key := range labels {
		if !strings.HasPrefix(key, Prefix) || key == GroupLabel {
			continue
		}
		rest := key[len(Prefix):]
		if strings.HasPrefix(rest, "DEPLOYMENT_") {
			out = append(out, Note{Label: key, Hint: deploymentHint})
			continue
		}
		num, name, ok := strings.Cut(rest, "_")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 || num != strconv.Itoa(n) {
			out = append(out, Note{Label: key, Hint: "not a Marathon-LB label (want HAPROXY_GROUP or HAPROXY_{n}_<NAME>)"})
			continue
		}
		hint := ""
		switch {
		case supported[name] && n < ports:
			continue
		case supported[name]:
			hint = "the app has " + strconv.Itoa(ports) + " service ports: there is no port " + num
		case unsupported[name] != "":
			hint = unsupported[name]
		case templates[name]:
			hint = templateHint
		default:
			hint = "not a Marathon-LB label"
		}
		out = append(out, Note{Label: key, Hint: hint})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}
