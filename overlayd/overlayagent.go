package overlayd

import (
	"encoding/json"
	"net/http"
	"net/netip"

	"github.com/dcnet/dcnet/overlayd/api"
)

// overlayAgent renders the node in the Mesos overlay module's agent shape
// (api.OverlayAgent).
func (d *Daemon) overlayAgent() api.OverlayAgent {
	st := d.status()
	out := api.OverlayAgent{IP: d.cfg.UnderlayIP, Overlays: []api.AgentOverlayInfo{}}
	for i, n := range st.Networks {
		o := api.AgentOverlayInfo{
			Info:    api.OverlayInfo{Name: n.Name, Subnet: n.Subnet, Subnet6: n.Subnet6},
			Subnet:  n.NodeSubnet,
			Subnet6: n.NodeSubnet6,
			Backend: api.OverlayBackend{VxLAN: api.OverlayVxLAN{VNI: st.VTEP.VNI, VTEPName: st.VTEP.Device,
				VTEPIP: withLen(st.VTEP.IP, d.cfg.VTEP.Subnet), VTEPIP6: withLen(st.VTEP.IP6, d.cfg.VTEP.Subnet6), VTEPMAC: st.VTEP.MAC}},
			State: api.OverlayState{Status: api.OverlayStatusConfiguring},
		}
		if i < len(d.cfg.Overlays) {
			if n.Subnet != "" {
				o.Info.Prefix = d.cfg.Overlays[i].Prefix
			}
			if n.Subnet6 != "" {
				o.Info.Prefix6 = d.cfg.Overlays[i].Prefix6
			}
		}
		br := &api.OverlayBridge{Name: n.Bridge, IP: withLen(n.Gateway, n.NodeSubnet), IP6: withLen(n.Gateway6, n.NodeSubnet6)}
		o.MesosBridge, o.DockerBridge = br, br
		if (n.Subnet == "" || n.NodeSubnet != "") && (n.Subnet6 == "" || n.NodeSubnet6 != "") {
			o.State.Status = api.OverlayStatusOK
		}
		out.Overlays = append(out.Overlays, o)
	}
	return out
}

// withLen is addr with the prefix length of subnet ("9.0.1.1/24"), ""
// when either is missing.
func withLen(addr, subnet string) string {
	a, err := netip.ParseAddr(addr)
	p, perr := netip.ParsePrefix(subnet)
	if err != nil || perr != nil {
		return ""
	}
	return netip.PrefixFrom(a, p.Bits()).String()
}

func (d *Daemon) handleOverlayAgent(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(d.overlayAgent())
}

// metricsHandler serves /metrics and the overlay module's agent endpoint.
func (d *Daemon) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", d.metrics.handler())
	mux.HandleFunc("GET "+api.PathOverlayAgent, d.handleOverlayAgent)
	return mux
}
