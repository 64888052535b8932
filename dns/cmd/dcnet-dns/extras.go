package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dcnet/dcnet/overlayd/cluster"
)

// nodesTimeout bounds the etcd reads of one /v1/nodes request.
const nodesTimeout = 5 * time.Second

// withClusterRoutes adds the routes dcos-net served on the same port
// besides DNS: /v1/vips (the local dcnet-l4lb's answer, proxied; 502 when
// none answers) and /v1/nodes (the cluster's nodes from etcd, with their
// liveness; 503 without etcd). Every other path goes to api.
func withClusterRoutes(api http.Handler, l4lbAddr string, store *cluster.Store) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	if l4lbAddr != "" {
		proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: l4lbAddr})
		proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "dcnet-l4lb at "+l4lbAddr+" does not answer: "+err.Error(), http.StatusBadGateway)
		}
		mux.Handle("GET /v1/vips", proxy)
	}
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		if store == nil {
			http.Error(w, "no cluster store: start dcnet-dns with --etcd-endpoints", http.StatusServiceUnavailable)
			return
		}
		nodes, err := listNodes(r.Context(), store.Client)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(nodes)
	})
	return mux
}

// nodeInfo is one node of /v1/nodes: overlayd's node record and whether
// its liveness key exists.
type nodeInfo struct {
	cluster.Node
	Alive bool `json:"alive"`
}

// listNodes reads the node records and liveness keys, sorted by name; a
// record that does not decode is listed by its key's name only.
func listNodes(ctx context.Context, cli *clientv3.Client) ([]nodeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, nodesTimeout)
	defer cancel()
	recs, err := cli.Get(ctx, cluster.NodesPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	alive, err := cli.Get(ctx, cluster.AlivePrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithRev(recs.Header.Revision))
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, kv := range alive.Kvs {
		live[strings.TrimPrefix(string(kv.Key), cluster.AlivePrefix)] = true
	}
	out := []nodeInfo{}
	for _, kv := range recs.Kvs {
		var n cluster.Node
		if json.Unmarshal(kv.Value, &n) != nil || n.Name == "" {
			n = cluster.Node{Name: strings.TrimPrefix(string(kv.Key), cluster.NodesPrefix)}
		}
		out = append(out, nodeInfo{Node: n, Alive: live[n.Name]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
