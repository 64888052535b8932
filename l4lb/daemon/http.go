package daemon

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Paths of the HTTP API.
const (
	// PathVIPs serves the programmed VIPs.
	PathVIPs = "/v1/vips"
	// PathProgrammed + <ip> answers 204 when ip is the address of a VIP
	// in the kernel (see Daemon.Programmed), 404 when not, 400 for a
	// malformed address: dcnet-dns asks it before answering a VIP name.
	PathProgrammed = "/v1/programmed/"
)

// VIPInfo is one VIP of /v1/vips: dcos-net's vip, protocol and backend,
// plus the port, DNS name and address.
type VIPInfo struct {
	VIP      string        `json:"vip"`
	Protocol string        `json:"protocol"`
	Port     uint16        `json:"port"`
	Name     string        `json:"name,omitempty"`
	Address  string        `json:"address"`
	Backends []BackendInfo `json:"backend"`
}

// BackendInfo is one backend of a VIPInfo.
type BackendInfo struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
	Node string `json:"node,omitempty"`
	// Active is false for a backend listed by the records but not
	// programmed (its node is not alive).
	Active bool `json:"active"`
	// Draining is true for a programmed backend that takes no new
	// connections (unhealthy, or its task is terminating).
	Draining bool `json:"draining,omitempty"`
}

// VIPs returns the VIPs of the last successful sync.
func (d *Daemon) VIPs() []VIPInfo {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]VIPInfo, 0, len(d.services))
	for _, s := range d.services {
		active := map[netip.AddrPort]bool{}
		for _, b := range s.Backends {
			active[b.AddrPort()] = true
		}
		vi := VIPInfo{
			VIP:      netip.AddrPortFrom(s.Addr, s.Key.Port).String(),
			Protocol: s.Key.Protocol, Port: s.Key.Port, Name: s.Key.Name, Address: s.Addr.String(),
			Backends: []BackendInfo{},
		}
		for _, b := range s.All {
			vi.Backends = append(vi.Backends, BackendInfo{IP: b.IP.String(), Port: b.Port, Node: b.Node, Active: active[b.AddrPort()],
				Draining: b.Draining || !b.Healthy})
		}
		out = append(out, vi)
	}
	return out
}

// Handler serves PathVIPs, PathProgrammed and PathMetrics.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathVIPs, func(w http.ResponseWriter, _ *http.Request) {
		b, _ := json.MarshalIndent(d.VIPs(), "", "  ")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
		w.Write(append(b, '\n'))
	})
	mux.HandleFunc("GET "+PathProgrammed+"{ip}", func(w http.ResponseWriter, r *http.Request) {
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
			w.Header().Set(HeaderProgrammed, "no")
			w.WriteHeader(http.StatusNotFound)
		}
	})
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

// HeaderProgrammed is set to "no" on PathProgrammed's 404 answers.
const HeaderProgrammed = "X-Dcnet-Programmed"

// hasSynced reports whether one sync succeeded.
func (d *Daemon) hasSynced() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.syncs > 0
}
