package daemon

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// VIPs returns the VIPs of the last successful sync.
func (d *Daemon) VIPs() []l4lbapi.VIPInfo {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]l4lbapi.VIPInfo, 0, len(d.services))
	for _, s := range d.services {
		active := map[netip.AddrPort]bool{}
		for _, b := range s.Backends {
			active[b.AddrPort()] = true
		}
		vi := l4lbapi.VIPInfo{
			VIP:      netip.AddrPortFrom(s.Addr, s.Key.Port).String(),
			Protocol: s.Key.Protocol, Port: s.Key.Port, Name: s.Key.Name, Address: s.Addr.String(),
			Backends: []l4lbapi.BackendInfo{},
		}
		for _, b := range s.All {
			vi.Backends = append(vi.Backends, l4lbapi.BackendInfo{IP: b.IP.String(), Port: b.Port, Node: b.Node, Active: active[b.AddrPort()],
				Draining: b.Draining || !b.Healthy})
		}
		out = append(out, vi)
	}
	return out
}

// Handler serves l4lbapi.PathVIPs, PathProgrammed and PathMetrics.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+l4lbapi.PathVIPs, func(w http.ResponseWriter, _ *http.Request) {
		b, _ := json.MarshalIndent(d.VIPs(), "", "  ")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
		w.Write(append(b, '\n'))
	})
	mux.HandleFunc("GET "+l4lbapi.PathProgrammed+"{ip}", func(w http.ResponseWriter, r *http.Request) {
		a, err := netip.ParseAddr(r.PathValue("ip"))
		switch {
		case err != nil || a.Zone() != "":
			http.Error(w, "want an IPv4 or IPv6 address", http.StatusBadRequest)
		case !d.hasSynced():
			// The kernel may still hold the previous run's tables: say
			// "cannot tell" rather than "not programmed".
			http.Error(w, "no successful sync yet", http.StatusServiceUnavailable)
		case d.Programmed(a):
			w.WriteHeader(http.StatusNoContent)
		default:
			// The header tells this answer from a 404 of a server
			// without this route (an older dcnet-l4lb).
			w.Header().Set(l4lbapi.HeaderProgrammed, "no")
			w.WriteHeader(http.StatusNotFound)
		}
	})
	mux.Handle("GET "+l4lbapi.PathMetrics, promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

// hasSynced reports whether one sync succeeded.
func (d *Daemon) hasSynced() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.syncs > 0
}
