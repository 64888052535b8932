package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// outcome is one request's result.
type outcome struct {
	kind    string
	status  int
	body    string
	latency time.Duration
	err     error
	retried int
}

// worker runs requests one at a time, keeping its connection when
// KeepAlive.
type worker struct {
	cfg  Config
	conn net.Conn
	br   *bufio.Reader
}

func (w *worker) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

func (w *worker) do(ctx context.Context) outcome {
	start := time.Now()
	o := w.once(ctx)
	if o.err != nil && o.retryable {
		o = w.once(ctx)
		o.retried = 1
	}
	o.latency = time.Since(start)
	return o.outcome
}

type attempt struct {
	outcome
	retryable bool
}

func (w *worker) once(ctx context.Context) attempt {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	reused := w.conn != nil
	if w.conn == nil {
		c, err := w.cfg.Dial(ctx, "tcp", w.cfg.Addr)
		if err != nil {
			return attempt{outcome: outcome{kind: classify(err), err: err}}
		}
		if w.cfg.TLS != nil {
			tc := w.cfg.TLS.Clone()
			if tc.ServerName == "" {
				tc.ServerName, _, _ = strings.Cut(w.cfg.Host, ":")
			}
			t := tls.Client(c, tc)
			if err := t.HandshakeContext(ctx); err != nil {
				c.Close()
				k := classify(err)
				if k == KindOther {
					k = KindTLS
				}
				return attempt{outcome: outcome{kind: k, err: err}}
			}
			c = t
		}
		w.conn, w.br = c, bufio.NewReader(c)
	}
	dl, _ := ctx.Deadline()
	w.conn.SetDeadline(dl)
	if w.cfg.TCP {
		defer w.close()
		b, err := io.ReadAll(w.br)
		if err != nil {
			return attempt{outcome: outcome{kind: classify(err), err: err}}
		}
		if len(b) == 0 {
			return attempt{outcome: outcome{kind: KindClosed, err: errors.New("connection closed without an answer")}}
		}
		return attempt{outcome: outcome{kind: KindOK, body: trimBody(b)}}
	}
	conn := "keep-alive"
	if !w.cfg.KeepAlive {
		conn = "close"
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: dcnet-loadgen\r\nConnection: %s\r\n\r\n", w.cfg.Path, w.cfg.Host, conn)
	if _, err := io.WriteString(w.conn, req); err != nil {
		w.close()
		return attempt{outcome: outcome{kind: classify(err), err: err}, retryable: reused}
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		// Nothing read on a reused connection: the server closed it
		// while idle; HTTP/1.1 lets the client send the request again.
		retry := reused && w.br.Buffered() == 0 && isClose(err)
		w.close()
		return attempt{outcome: outcome{kind: classify(err), err: err}, retryable: retry}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		w.close()
		return attempt{outcome: outcome{kind: classify(err), err: err, status: resp.StatusCode}}
	}
	if !w.cfg.KeepAlive || resp.Close {
		w.close()
	}
	o := outcome{kind: KindOK, status: resp.StatusCode, body: trimBody(body)}
	switch {
	case resp.StatusCode >= 500:
		o.kind = Kind5xx
		o.err = fmt.Errorf("status %d: %s", resp.StatusCode, o.body)
	case resp.StatusCode >= 400:
		o.kind = Kind4xx
	}
	return attempt{outcome: o}
}

func trimBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxBodyBytes {
		s = s[:maxBodyBytes]
	}
	return s
}

// isClose reports a connection the peer closed or reset.
func isClose(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// classify names the kind of a failed request.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return KindReset
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindClosed
	}
	return KindOther
}
