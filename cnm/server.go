package cnm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Protocol constants.
const (
	contentType     = "application/vnd.docker.plugins.v1.2+json"
	maxRequestBytes = 1 << 20
	// callTimeout bounds one plugin call; dockerd itself gives up later.
	callTimeout = 30 * time.Second
)

// Handler serves both plugin interfaces on one mux: /Plugin.Activate,
// /NetworkDriver.* and /IpamDriver.*. Every failure, including a body that
// is no JSON, is answered 500 with {"Err": "..."}, as dockerd expects.
func (d *Driver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, activateResponse{Implements: []string{ifaceNetwork, ifaceIPAM}})
	})
	nd := func(m string) string { return "/" + ifaceNetwork + "." + m }
	ipam := func(m string) string { return "/" + ifaceIPAM + "." + m }
	route(d, mux, nd("GetCapabilities"), d.capabilities)
	route(d, mux, nd("CreateNetwork"), d.createNetwork)
	route(d, mux, nd("DeleteNetwork"), d.deleteNetwork)
	route(d, mux, nd("AllocateNetwork"), noop[networkRequest])
	route(d, mux, nd("FreeNetwork"), noop[networkRequest])
	route(d, mux, nd("CreateEndpoint"), d.createEndpoint)
	route(d, mux, nd("DeleteEndpoint"), d.deleteEndpoint)
	route(d, mux, nd("EndpointOperInfo"), d.endpointInfo)
	route(d, mux, nd("Join"), d.join)
	route(d, mux, nd("Leave"), d.leave)
	route(d, mux, nd("DiscoverNew"), noop[map[string]any])
	route(d, mux, nd("DiscoverDelete"), noop[map[string]any])
	route(d, mux, nd("ProgramExternalConnectivity"), d.programExternal)
	route(d, mux, nd("RevokeExternalConnectivity"), d.revokeExternal)
	route(d, mux, ipam("GetCapabilities"), d.ipamCapabilities)
	route(d, mux, ipam("GetDefaultAddressSpaces"), d.addressSpaces)
	route(d, mux, ipam("RequestPool"), d.requestPool)
	route(d, mux, ipam("ReleasePool"), d.releasePool)
	route(d, mux, ipam("RequestAddress"), d.requestAddress)
	route(d, mux, ipam("ReleaseAddress"), d.releaseAddress)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorResponse{Err: fmt.Sprintf("dcnet: unknown plugin method %s", r.URL.Path)})
	})
	return mux
}

// route registers one plugin method: decode, call, encode.
func route[Req, Resp any](d *Driver, mux *http.ServeMux, path string, fn func(context.Context, *Req) (Resp, error)) {
	method := strings.TrimPrefix(path, "/")
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := decodeRequest(r.Body, &req); err != nil {
			d.log.Warn("bad plugin request", "method", method, "err", err)
			writeJSON(w, http.StatusInternalServerError, errorResponse{Err: fmt.Sprintf("dcnet: %s: %v", method, err)})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		defer cancel()
		start := time.Now()
		resp, err := fn(ctx, &req)
		if err != nil {
			d.log.Error("plugin call failed", "method", method, "err", err, "took", time.Since(start))
			writeJSON(w, http.StatusInternalServerError, errorResponse{Err: "dcnet: " + err.Error()})
			return
		}
		d.log.Debug("plugin call", "method", method, "took", time.Since(start))
		writeJSON(w, http.StatusOK, resp)
	})
}

// decodeRequest reads one JSON object into v; an empty body is an empty
// request (dockerd sends none to GetCapabilities).
func decodeRequest(body io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(body, maxRequestBytes+1))
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if len(data) > maxRequestBytes {
		return fmt.Errorf("request larger than %d bytes", maxRequestBytes)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON request: %w", err)
	}
	if dec.More() {
		return errors.New("malformed JSON request: trailing data after the object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Listen creates the plugin socket at path (replacing a stale one).
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	return l, nil
}

// Serve answers plugin calls on l and sweeps every interval (0 means
// every minute, as dcnet-cnm --sweep-interval 0 does) until ctx ends, then
// shuts the server down (finishing calls in flight).
func (d *Driver) Serve(ctx context.Context, l net.Listener, interval time.Duration) error {
	interval = sweepEvery(interval)
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	go d.sweepLoop(ctx, interval)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// sweepEvery is the sweep interval Serve uses for interval: 0 (or less)
// means defaultSweep.
func sweepEvery(interval time.Duration) time.Duration {
	if interval <= 0 {
		return defaultSweep
	}
	return interval
}

func (d *Driver) sweepLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := d.Sweep(ctx); err != nil {
			d.log.Warn("sweep failed (will retry)", "err", err)
		} else if n > 0 {
			d.log.Info("sweep released leaked addresses", "attachments", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
