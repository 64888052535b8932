package daemon

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/pools"
)

// poolOpTimeout bounds one pools API request's store work.
const poolOpTimeout = 10 * time.Second

// poolRoutes serves the pools API on the store.
func (d *Daemon) poolRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+l7lbapi.PathPools, func(w http.ResponseWriter, r *http.Request) {
		d.withStore(w, r, func(ctx context.Context, st *pools.Store) (int, any, error) {
			ps, err := st.List(ctx)
			return http.StatusOK, ps, err
		})
	})
	mux.HandleFunc("POST "+l7lbapi.PathPools, func(w http.ResponseWriter, r *http.Request) {
		d.withBody(w, r, func(ctx context.Context, st *pools.Store, doc []byte) (int, any, error) {
			e, err := st.Create(ctx, doc)
			if err == nil {
				d.log.Info("pool created", "pool", e.Pool.Name, "revision", e.Revision, "from", r.RemoteAddr)
			}
			return http.StatusCreated, e, err
		})
	})
	mux.HandleFunc("GET "+l7lbapi.PathPool+"{name}", func(w http.ResponseWriter, r *http.Request) {
		d.withStore(w, r, func(ctx context.Context, st *pools.Store) (int, any, error) {
			e, err := st.Get(ctx, r.PathValue("name"))
			return http.StatusOK, e, err
		})
	})
	mux.HandleFunc("PUT "+l7lbapi.PathPool+"{name}", func(w http.ResponseWriter, r *http.Request) {
		d.withBody(w, r, func(ctx context.Context, st *pools.Store, doc []byte) (int, any, error) {
			e, err := st.Update(ctx, r.PathValue("name"), doc)
			if err == nil {
				d.log.Info("pool updated", "pool", e.Pool.Name, "revision", e.Revision, "from", r.RemoteAddr)
			}
			return http.StatusOK, e, err
		})
	})
	mux.HandleFunc("DELETE "+l7lbapi.PathPool+"{name}", func(w http.ResponseWriter, r *http.Request) {
		d.withStore(w, r, func(ctx context.Context, st *pools.Store) (int, any, error) {
			err := st.Delete(ctx, r.PathValue("name"))
			if err == nil {
				d.log.Info("pool deleted", "pool", r.PathValue("name"), "from", r.RemoteAddr)
			}
			return http.StatusNoContent, nil, err
		})
	})
}

// withStore runs op on the pool store and writes its answer or error.
func (d *Daemon) withStore(w http.ResponseWriter, r *http.Request, op func(context.Context, *pools.Store) (int, any, error)) {
	if d.opts.PoolStore == nil {
		writeError(w, http.StatusServiceUnavailable, l7lbapi.ErrorBody{Code: l7lbapi.CodeUnavailable,
			Error: "this dcnet-l7lb has no cluster store: start it with --etcd-endpoints to manage pools"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), poolOpTimeout)
	defer cancel()
	code, v, err := op(ctx, d.opts.PoolStore)
	if err != nil {
		writePoolError(w, err)
		return
	}
	if code == http.StatusNoContent {
		w.WriteHeader(code)
		return
	}
	writeJSON(w, code, v)
}

// withBody is withStore for requests carrying a pool document.
func (d *Daemon) withBody(w http.ResponseWriter, r *http.Request, op func(context.Context, *pools.Store, []byte) (int, any, error)) {
	doc, err := io.ReadAll(io.LimitReader(r.Body, l7lbapi.MaxPoolBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, l7lbapi.ErrorBody{Code: l7lbapi.CodeInvalid, Error: "read the document: " + err.Error()})
		return
	}
	d.withStore(w, r, func(ctx context.Context, st *pools.Store) (int, any, error) { return op(ctx, st, doc) })
}

func writePoolError(w http.ResponseWriter, err error) {
	var ve *l7lbapi.ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, l7lbapi.ErrorBody{Code: l7lbapi.CodeInvalid, Error: err.Error(), Fields: ve.Errors})
	case errors.Is(err, pools.ErrExists):
		writeError(w, http.StatusConflict, l7lbapi.ErrorBody{Code: l7lbapi.CodeExists, Error: err.Error()})
	case errors.Is(err, pools.ErrNotFound):
		writeError(w, http.StatusNotFound, l7lbapi.ErrorBody{Code: l7lbapi.CodeNotFound, Error: err.Error()})
	case errors.Is(err, pools.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, l7lbapi.ErrorBody{Code: l7lbapi.CodeUnavailable,
			Error: err.Error() + " (the pools served keep their last document; retry when etcd is back)"})
	default:
		writeError(w, http.StatusInternalServerError, l7lbapi.ErrorBody{Code: l7lbapi.CodeInternal, Error: err.Error()})
	}
}
