package daemon

import (
	"cmp"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// vipStates are the values of l4lbapi.VIPInfo.State, for the gauges.
var vipStates = []string{l4lbapi.StateActive, l4lbapi.StateDraining, l4lbapi.StateRejecting, l4lbapi.StateHeld}

// serviceState is s's l4lbapi state.
func serviceState(s Service) string {
	switch {
	case s.Rejecting:
		return l4lbapi.StateRejecting
	case s.Held:
		return l4lbapi.StateHeld
	}
	for _, b := range s.Backends {
		if b.Healthy && !b.Draining {
			return l4lbapi.StateActive
		}
	}
	return l4lbapi.StateDraining
}

// VIPs returns the VIPs of the last successful sync in dcos-net's shape
// (l4lbapi.PathVIPs): one entry per protocol, VIP and port (a named VIP's
// two families in one), every listed backend. VIPs without backends (the
// rejecting ones) are left out, as dcos-net drops a VIP with its last
// backend.
func (d *Daemon) VIPs() []l4lbapi.VIP {
	d.mu.RLock()
	defer d.mu.RUnlock()
	type id struct {
		proto, vip string
	}
	index := map[id]int{}
	var out []l4lbapi.VIP
	seen := map[id]map[netip.AddrPort]bool{}
	for _, s := range d.services {
		if len(s.All) == 0 {
			continue
		}
		k := id{s.Key.Protocol, dcosVIP(s.Key)}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, l4lbapi.VIP{VIP: k.vip, Protocol: k.proto, Backends: []l4lbapi.Backend{}})
			seen[k] = map[netip.AddrPort]bool{}
		}
		for _, b := range s.All {
			if ap := b.AddrPort(); !seen[k][ap] {
				seen[k][ap] = true
				out[i].Backends = append(out[i].Backends, l4lbapi.Backend{IP: b.IP.String(), Port: b.Port})
			}
		}
	}
	for i := range out {
		slices.SortFunc(out[i].Backends, func(a, b l4lbapi.Backend) int {
			return cmp.Or(netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP)), cmp.Compare(a.Port, b.Port))
		})
	}
	slices.SortFunc(out, func(a, b l4lbapi.VIP) int {
		return cmp.Or(cmp.Compare(a.VIP, b.VIP), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}

// dcosVIP renders k as dcos-net's vip field: name:port or ip:port, an IPv6
// address unbracketed (<<FullName/binary, ":", PortBin/binary>>).
func dcosVIP(k vip.Key) string {
	host := k.Name
	if !k.IsNamed() {
		host = k.IP.String()
	}
	return host + ":" + strconv.Itoa(int(k.Port))
}

// Details returns the VIPs of the last successful sync, one per family,
// with their state and backends, and the refused IP VIPs.
func (d *Daemon) Details() l4lbapi.Details {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := l4lbapi.Details{VIPs: make([]l4lbapi.VIPInfo, 0, len(d.services)), Refused: []l4lbapi.Refused{}}
	for _, s := range d.services {
		out.VIPs = append(out.VIPs, l4lbapi.VIPInfo{
			VIP:      netip.AddrPortFrom(s.Addr, s.Key.Port).String(),
			Protocol: s.Key.Protocol, Port: s.Key.Port, Name: s.Key.Name, Address: s.Addr.String(),
			State: serviceState(s), Backends: backendInfos(s),
		})
	}
	for _, r := range d.refused {
		out.Refused = append(out.Refused, l4lbapi.Refused{
			VIP: netip.AddrPortFrom(r.Addr, r.Key.Port).String(), Protocol: r.Key.Protocol, Port: r.Key.Port,
			Address: r.Addr.String(), HeldBy: r.HeldBy, Since: r.Since.UTC().Format(time.RFC3339), Backends: backendInfos(r.Service),
		})
	}
	return out
}

func backendInfos(s Service) []l4lbapi.BackendInfo {
	active := map[netip.AddrPort]bool{}
	for _, b := range s.Backends {
		active[b.AddrPort()] = true
	}
	out := make([]l4lbapi.BackendInfo, 0, len(s.All))
	for _, b := range s.All {
		out = append(out, l4lbapi.BackendInfo{IP: b.IP.String(), Port: b.Port, Node: b.Node, Active: active[b.AddrPort()],
			Draining: b.Draining || !b.Healthy})
	}
	return out
}

// Handler serves l4lbapi.PathVIPs, PathDetails, PathProgrammed and
// PathMetrics.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+l4lbapi.PathVIPs, func(w http.ResponseWriter, _ *http.Request) {
		b, _ := json.Marshal(d.VIPs())
		// dcos-net's ETag changes with the VIPs (a digest of its vector
		// clock); this one is a digest of the answer.
		sum := sha1.Sum(b)
		w.Header().Set("ETag", base64.StdEncoding.EncodeToString(sum[:]))
		writeJSONBytes(w, b)
	})
	mux.HandleFunc("GET "+l4lbapi.PathDetails, func(w http.ResponseWriter, _ *http.Request) {
		b, _ := json.MarshalIndent(d.Details(), "", "  ")
		writeJSONBytes(w, b)
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

func writeJSONBytes(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Write(append(b, '\n'))
}

// hasSynced reports whether one sync succeeded.
func (d *Daemon) hasSynced() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.syncs > 0
}
