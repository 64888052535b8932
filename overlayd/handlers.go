package overlayd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/dcnet/dcnet/ipam"
	"github.com/dcnet/dcnet/overlayd/alloc"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// maxRequestBytes bounds a request body.
const maxRequestBytes = 1 << 20

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathStatus, d.handleStatus)
	mux.HandleFunc("POST "+api.PathAllocate, d.handleAllocate)
	mux.HandleFunc("POST "+api.PathRelease, d.handleRelease)
	mux.HandleFunc("POST "+api.PathGC, d.handleGC)
	mux.HandleFunc("GET "+api.PathAttachment, d.handleAttachment)
	mux.HandleFunc("GET "+api.PathAttachments, d.handleAttachments)
	mux.HandleFunc("GET "+api.PathEndpoints, d.handleEndpoints)
	mux.HandleFunc("GET "+api.PathNetworks, d.handleNetworks)
	mux.HandleFunc("GET "+api.PathNodes, d.handleNodes)
	mux.HandleFunc("GET "+api.PathPeers, d.handlePeers)
	mux.HandleFunc("POST "+api.PathNodeRemove, d.handleNodeRemove)
	mux.HandleFunc("POST "+api.PathUpdate, d.handleUpdate)
	mux.HandleFunc("POST "+api.PathWithdraw, d.handleWithdraw)
	mux.HandleFunc("POST "+api.PathPublish, d.handlePublish)
	return d.metrics.instrument(mux)
}

// httpError is an API failure with its HTTP status and code.
type httpError struct {
	status int
	code   string
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }

func fail(status int, code string, format string, args ...any) error {
	return &httpError{status: status, code: code, err: fmt.Errorf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (d *Daemon) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{status: http.StatusInternalServerError, code: api.CodeInternal, err: err}
	}
	if he.status >= 500 {
		d.log.Error("api request failed", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, he.status, api.ErrorBody{Code: he.code, Error: he.err.Error()})
}

// decode reads a strict JSON body into v.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail(http.StatusBadRequest, api.CodeInvalid, "malformed request body for %s: %v", r.URL.Path, err)
	}
	return nil
}

func validID(id api.AttachmentID) error {
	for _, f := range []struct{ name, v string }{{"network", id.Network}, {"containerID", id.ContainerID}, {"ifName", id.IfName}} {
		if f.v == "" {
			return fail(http.StatusBadRequest, api.CodeInvalid, "%s is required", f.name)
		}
		if strings.ContainsAny(f.v, "/\x00") || len(f.v) > 256 {
			return fail(http.StatusBadRequest, api.CodeInvalid, "%s %q: must be at most 256 characters without '/'", f.name, f.v)
		}
	}
	return nil
}

// pool returns the network's allocation pool, or an API error.
func (d *Daemon) pool(name string) (ipam.Pool, api.Network, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n, ok := d.networks[name]
	if !ok {
		names := make([]string, 0, len(d.networks))
		for k := range d.networks {
			names = append(names, k)
		}
		sort.Strings(names)
		return ipam.Pool{}, api.Network{}, fail(http.StatusNotFound, api.CodeInvalid, "unknown network %q: this node has %s", name, strings.Join(names, ", "))
	}
	info := n.info()
	pool := ipam.Pool{Network: name}
	for _, pair := range [][2]string{{n.cfg.Subnet, ""}, {n.cfg.Subnet6, "6"}} {
		if pair[0] == "" {
			continue
		}
		sub, ready := n.sub4, n.ready4
		if pair[1] == "6" {
			sub, ready = n.sub6, n.ready6
		}
		if !sub.IsValid() {
			return ipam.Pool{}, info, fail(http.StatusServiceUnavailable, api.CodeUnavailable,
				"network %s: this node has no subnet of %s yet (is the cluster store reachable?)", name, pair[0])
		}
		if ready != sub {
			return ipam.Pool{}, info, fail(http.StatusServiceUnavailable, api.CodeUnavailable,
				"network %s: subnet %s is not on bridge %s yet (overlayd is starting)", name, sub, n.cfg.Bridge)
		}
		pool.Ranges = append(pool.Ranges, ipam.Range{Subnet: sub, Gateway: datapath.Gateway(sub)})
	}
	return pool, info, nil
}

func (n *network) info() api.Network {
	out := api.Network{Name: n.cfg.Name, Bridge: n.cfg.Bridge, MTU: int(n.cfg.MTU), Subnet: n.cfg.Subnet, Subnet6: n.cfg.Subnet6}
	// A subnet shows once it is on the bridge, ready to hand out.
	if n.ready4.IsValid() {
		out.NodeSubnet = n.ready4.String()
		out.Gateway = datapath.Gateway(n.ready4).String()
	}
	if n.ready6.IsValid() {
		out.NodeSubnet6 = n.ready6.String()
		out.Gateway6 = datapath.Gateway(n.ready6).String()
	}
	return out
}

func (d *Daemon) handleAllocate(w http.ResponseWriter, r *http.Request) {
	var req api.AllocateRequest
	resp, err := func() (api.AllocateResponse, error) {
		if err := decode(r, &req); err != nil {
			return api.AllocateResponse{}, err
		}
		if err := validID(req.AttachmentID); err != nil {
			return api.AllocateResponse{}, err
		}
		if err := validPortMappings(req.PortMappings); err != nil {
			return api.AllocateResponse{}, err
		}
		pool, info, err := d.pool(req.Network)
		if err != nil {
			return api.AllocateResponse{}, err
		}
		start := time.Now()
		before, _, _ := d.ipam.Get(ipamID(req.AttachmentID))
		att, created, err := d.ipam.Allocate(pool, ipamRequest(req))
		d.metrics.allocated(req.Network, err, time.Since(start))
		if errors.Is(err, ipam.ErrExhausted) {
			return api.AllocateResponse{}, fail(http.StatusConflict, api.CodeExhausted, "%v", err)
		}
		if err != nil {
			return api.AllocateResponse{}, err
		}
		republished := before.Withdrawn && !att.Withdrawn
		if republished {
			d.forgetWithdraw(req.AttachmentID)
		}
		if (created && !att.Withdrawn) || republished {
			d.publisher.Kick()
			d.log.Debug("allocated", "attachment", req.AttachmentID.String(), "ips", att.IPs, "republished", republished)
		}
		return api.AllocateResponse{Attachment: apiAttachment(att), Network: info}, nil
	}()
	d.reply(w, r, resp, err)
}

func validPortMappings(pms []api.PortMapping) error {
	for i, pm := range pms {
		if pm.HostPort < 1 || pm.HostPort > 65535 || pm.ContainerPort < 1 || pm.ContainerPort > 65535 {
			return fail(http.StatusBadRequest, api.CodeInvalid, "portMappings[%d]: ports must be in [1, 65535], got host %d container %d", i, pm.HostPort, pm.ContainerPort)
		}
		if p := strings.ToLower(pm.Protocol); p != "tcp" && p != "udp" && p != "sctp" && p != "" {
			return fail(http.StatusBadRequest, api.CodeInvalid, "portMappings[%d].protocol %q: want tcp, udp or sctp", i, pm.Protocol)
		}
		if pm.HostIP != "" {
			if _, err := netip.ParseAddr(pm.HostIP); err != nil {
				return fail(http.StatusBadRequest, api.CodeInvalid, "portMappings[%d].hostIP %q: not an IP address", i, pm.HostIP)
			}
		}
	}
	return nil
}

func (d *Daemon) handleRelease(w http.ResponseWriter, r *http.Request) {
	var id api.AttachmentID
	resp, err := func() (api.ReleaseResponse, error) {
		if err := decode(r, &id); err != nil {
			return api.ReleaseResponse{}, err
		}
		if err := validID(id); err != nil {
			return api.ReleaseResponse{}, err
		}
		_, released, err := d.ipam.Release(ipamID(id))
		if err != nil {
			return api.ReleaseResponse{}, err
		}
		d.forgetWithdraw(id)
		if released {
			d.metrics.released.Inc()
			d.publisher.Kick()
		}
		return api.ReleaseResponse{Released: released}, nil
	}()
	d.reply(w, r, resp, err)
}

func (d *Daemon) handlePublish(w http.ResponseWriter, r *http.Request) {
	var id api.AttachmentID
	resp, err := func() (api.PublishResponse, error) {
		if err := decode(r, &id); err != nil {
			return api.PublishResponse{}, err
		}
		if err := validID(id); err != nil {
			return api.PublishResponse{}, err
		}
		_, published, err := d.ipam.Publish(ipamID(id))
		if err != nil {
			return api.PublishResponse{}, err
		}
		if published {
			d.forgetWithdraw(id)
			d.publisher.Kick()
		}
		return api.PublishResponse{Published: published}, nil
	}()
	d.reply(w, r, resp, err)
}

func (d *Daemon) handleUpdate(w http.ResponseWriter, r *http.Request) {
	var req api.UpdateRequest
	resp, err := func() (api.Attachment, error) {
		if err := decode(r, &req); err != nil {
			return api.Attachment{}, err
		}
		if err := validID(req.AttachmentID); err != nil {
			return api.Attachment{}, err
		}
		to := req.AttachmentID
		if req.To != nil {
			if err := validID(*req.To); err != nil {
				return api.Attachment{}, err
			}
			if req.To.Network != req.Network {
				return api.Attachment{}, fail(http.StatusBadRequest, api.CodeInvalid, "to.network %q: must stay %q", req.To.Network, req.Network)
			}
			to = *req.To
		}
		if err := validPortMappings(req.PortMappings); err != nil {
			return api.Attachment{}, err
		}
		att, err := d.ipam.Update(ipamID(req.AttachmentID), ipamID(to), req.Labels, ipamPortMappings(req.PortMappings))
		if errors.Is(err, ipam.ErrNotFound) {
			return api.Attachment{}, fail(http.StatusNotFound, api.CodeNotFound, "%v on node %s", err, d.cfg.NodeName)
		}
		if err != nil {
			return api.Attachment{}, fail(http.StatusConflict, api.CodeInvalid, "%v", err)
		}
		d.publisher.Kick()
		return apiAttachment(att), nil
	}()
	d.reply(w, r, resp, err)
}

func (d *Daemon) handleGC(w http.ResponseWriter, r *http.Request) {
	var req api.GCRequest
	resp, err := func() (api.GCResponse, error) {
		if err := decode(r, &req); err != nil {
			return api.GCResponse{}, err
		}
		if req.Network == "" {
			return api.GCResponse{}, fail(http.StatusBadRequest, api.CodeInvalid, "network is required")
		}
		if _, _, err := d.pool(req.Network); err != nil && api.IsCode(err, api.CodeInvalid) {
			return api.GCResponse{}, err
		}
		rel, err := d.ipam.GC(req.Network, req.Config, ipamIDs(req.Valid))
		if err != nil {
			return api.GCResponse{}, err
		}
		if len(rel) > 0 {
			d.metrics.released.Add(float64(len(rel)))
			d.publisher.Kick()
			d.log.Info("gc released attachments", "network", req.Network, "count", len(rel))
		}
		return api.GCResponse{Released: apiAttachments(rel)}, nil
	}()
	d.reply(w, r, resp, err)
}

func (d *Daemon) handleAttachment(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := api.AttachmentID{Network: q.Get("network"), ContainerID: q.Get("containerID"), IfName: q.Get("ifName")}
	att, err := func() (api.Attachment, error) {
		if err := validID(id); err != nil {
			return api.Attachment{}, err
		}
		att, ok, err := d.ipam.Get(ipamID(id))
		if err != nil {
			return api.Attachment{}, err
		}
		if !ok {
			return api.Attachment{}, fail(http.StatusNotFound, api.CodeNotFound, "no attachment %s on node %s", id, d.cfg.NodeName)
		}
		return apiAttachment(att), nil
	}()
	d.reply(w, r, att, err)
}

func (d *Daemon) handleAttachments(w http.ResponseWriter, r *http.Request) {
	atts, err := d.ipam.List()
	d.reply(w, r, apiAttachments(atts), err)
}

func (d *Daemon) handleEndpoints(w http.ResponseWriter, r *http.Request) {
	out := []api.Endpoint{}
	for _, kv := range d.endpoints.List("") {
		var e api.Endpoint
		if json.Unmarshal(kv.Value, &e) == nil {
			out = append(out, e)
		}
	}
	d.reply(w, r, out, nil)
}

func (d *Daemon) networkInfos() []api.Network {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]api.Network, 0, len(d.cfg.Overlays))
	for _, o := range d.cfg.Overlays {
		out = append(out, d.networks[o.Name].info())
	}
	return out
}

func (d *Daemon) handleNetworks(w http.ResponseWriter, r *http.Request) {
	d.reply(w, r, d.networkInfos(), nil)
}

func (d *Daemon) status() api.Status {
	n, _ := d.ipam.Count()
	d.mu.RLock()
	storeErr := d.storeErr
	d.mu.RUnlock()
	st := api.Status{Node: d.cfg.NodeName, UnderlayIP: d.cfg.UnderlayIP, Version: d.opts.Version, Started: d.started,
		Store: "embedded", StoreOK: storeErr == nil, Networks: d.networkInfos(), Attachments: n,
		PendingPublish: d.publisher.Pending(), StoreEndpoints: d.storeEndpoints, PeersUnknown: d.nodes == nil || !d.nodes.Synced()}
	if len(d.cfg.Etcd.Endpoints) > 0 {
		st.Store = strings.Join(d.cfg.Etcd.Endpoints, ",")
	}
	if storeErr != nil {
		st.StoreError = storeErr.Error()
	}
	st.VTEP = api.VTEP{Device: d.cfg.VTEP.Name, VNI: d.cfg.VTEP.VNI, Port: d.cfg.VTEP.Port, MTU: d.underlayMTU - vxlanOverhead}
	d.mu.RLock()
	if d.vtep4.IsValid() {
		st.VTEP.IP = d.vtep4.String()
		st.VTEP.MAC = datapath.VTEPMAC(d.vtep4).String()
	}
	if d.vtep6.IsValid() {
		st.VTEP.IP6 = d.vtep6.String()
	}
	d.mu.RUnlock()
	st.Warnings = d.mtuWarnings()
	return st
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	d.reply(w, r, d.status(), nil)
}

func (d *Daemon) handleNodes(w http.ResponseWriter, r *http.Request) {
	out := d.nodeInfos()
	if out == nil {
		out = []api.Node{}
	}
	d.reply(w, r, out, nil)
}

func (d *Daemon) handlePeers(w http.ResponseWriter, r *http.Request) {
	out := []api.Peer{}
	for _, p := range d.plan().Peers {
		out = append(out, peerInfo(p))
	}
	d.reply(w, r, out, nil)
}

func (d *Daemon) handleNodeRemove(w http.ResponseWriter, r *http.Request) {
	var req api.NodeRemoveRequest
	resp, err := func() (api.NodeRemoveResponse, error) {
		if err := decode(r, &req); err != nil {
			return api.NodeRemoveResponse{}, err
		}
		if req.Name == "" || strings.Contains(req.Name, "/") {
			return api.NodeRemoveResponse{}, fail(http.StatusBadRequest, api.CodeInvalid, "name %q: want a node name", req.Name)
		}
		if req.Name == d.cfg.NodeName {
			return api.NodeRemoveResponse{}, fail(http.StatusBadRequest, api.CodeInvalid,
				"node %s is this node: stop its overlayd first and remove it from another node", req.Name)
		}
		n, err := alloc.RemoveNode(r.Context(), d.store, req.Name)
		if err != nil {
			return api.NodeRemoveResponse{}, fail(http.StatusServiceUnavailable, api.CodeUnavailable, "%v", err)
		}
		if n == 0 {
			return api.NodeRemoveResponse{}, fail(http.StatusNotFound, api.CodeNotFound, "no node %s in the cluster store", req.Name)
		}
		d.log.Info("node removed", "node", req.Name, "keys", n)
		return api.NodeRemoveResponse{Removed: n}, nil
	}()
	d.reply(w, r, resp, err)
}
