package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/dnsapi"
)

// NodeLister lists the cluster's nodes with their liveness
// (cluster.Store.NodeStates).
type NodeLister interface {
	NodeStates(ctx context.Context) ([]cluster.NodeState, error)
}

var _ NodeLister = (*cluster.Store)(nil)

// WithClusterRoutes adds the routes dcos-net served on the same port
// besides DNS: /v1/vips (the local dcnet-l4lb's answer from l4lbAddr,
// proxied; 502 when none answers; no route when l4lbAddr is "") and
// /v1/nodes (the cluster's nodes from nodes, with their liveness; 503
// when nodes is nil or fails). Every other path goes to api.
func WithClusterRoutes(api http.Handler, l4lbAddr string, nodes NodeLister) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	if l4lbAddr != "" {
		proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: l4lbAddr})
		proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "dcnet-l4lb at "+l4lbAddr+" does not answer: "+err.Error(), http.StatusBadGateway)
		}
		mux.Handle("GET "+dnsapi.PathVIPs, proxy)
	}
	mux.HandleFunc("GET "+dnsapi.PathNodes, func(w http.ResponseWriter, r *http.Request) {
		if nodes == nil {
			http.Error(w, "no cluster store: start dcnet-dns with --etcd-endpoints", http.StatusServiceUnavailable)
			return
		}
		ns, err := nodes.NodeStates(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ns)
	})
	return mux
}
