package marathon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Stream defaults.
const (
	// DefaultIdle ends an event stream that brought nothing, not even a
	// heartbeat line, for this long (Marathon writes one every 10 s or
	// so; Marathon-LB waited 5 minutes).
	DefaultIdle = 60 * time.Second
	// maxEventBytes bounds one event line (an api_post_event carries a
	// whole app definition).
	maxEventBytes = 8 << 20
)

// Kinds of stream failures (StreamError.Kind), also metric labels.
const (
	StreamConnect = "connect" // no Marathon accepted the stream
	StreamIdle    = "idle"    // nothing arrived for the idle timeout
	StreamGarbage = "garbage" // an event that is not JSON, or a line too long
	StreamClosed  = "closed"  // Marathon ended the stream
)

// StreamError says why an event stream ended.
type StreamError struct {
	Kind string
	Err  error
}

func (e *StreamError) Error() string { return "marathon event stream " + e.Kind + ": " + e.Err.Error() }

func (e *StreamError) Unwrap() error { return e.Err }

// StreamHandler gets what a stream brings, from Stream's goroutine.
type StreamHandler struct {
	// Connected is called once the stream is accepted, with the URL.
	Connected func(from string)
	// Activity is called for every line read, heartbeats included.
	Activity func()
	// Event is called for every event of a subscribed type.
	Event func(Event)
}

// Stream follows GET /v2/events (filtered server-side to types, with
// plan-format=light) on the first Marathon that accepts it, and returns
// when the stream ends; the error is a *StreamError. idle ends a stream
// silent for that long (0: DefaultIdle).
func (c *Client) Stream(ctx context.Context, types []string, idle time.Duration, h StreamHandler) error {
	if idle <= 0 {
		idle = DefaultIdle
	}
	var resp *http.Response
	var cancel context.CancelFunc
	var from *url.URL
	var errs []error
	for _, u := range c.order() {
		sctx, scancel := context.WithCancel(ctx)
		r, err := c.openStream(sctx, u, types)
		if err == nil {
			resp, cancel, from = r, scancel, u
			break
		}
		scancel()
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if resp == nil {
		return &StreamError{Kind: StreamConnect, Err: errors.Join(errs...)}
	}
	defer cancel()
	defer resp.Body.Close()
	c.prefer(from)
	if h.Connected != nil {
		h.Connected(from.Redacted())
	}
	var idled atomic.Bool
	timer := time.AfterFunc(idle, func() { idled.Store(true); cancel() })
	defer timer.Stop()
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	err := readEvents(resp.Body, func() {
		timer.Reset(idle)
		if h.Activity != nil {
			h.Activity()
		}
	}, func(ev Event) {
		if (len(want) == 0 || want[ev.EventType]) && h.Event != nil {
			h.Event(ev)
		}
	})
	switch {
	case ctx.Err() != nil:
		return &StreamError{Kind: StreamClosed, Err: ctx.Err()}
	case idled.Load():
		return &StreamError{Kind: StreamIdle, Err: fmt.Errorf("nothing from %s for %v", from.Redacted(), idle)}
	case errors.Is(err, errGarbage):
		return &StreamError{Kind: StreamGarbage, Err: fmt.Errorf("%s: %w", from.Redacted(), err)}
	case err == nil:
		err = io.EOF
	}
	return &StreamError{Kind: StreamClosed, Err: fmt.Errorf("%s: %w", from.Redacted(), err)}
}

func (c *Client) openStream(ctx context.Context, base *url.URL, types []string) (*http.Response, error) {
	u := *base
	u.Path += "/v2/events"
	q := url.Values{"plan-format": {"light"}}
	for _, t := range types {
		q.Add("event_type", t)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("User-Agent", userAgent)
	// The connect and the answer's header are bounded by the transport
	// (ResponseHeaderTimeout): a Marathon that accepts and never answers
	// is left after the client's timeout.
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", u.Redacted(), resp.Status, strings.TrimSpace(string(b)))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: answered %q, not an event stream", u.Redacted(), ct)
	}
	return resp, nil
}

var errGarbage = errors.New("garbled event")

// readEvents parses a server-sent event stream: "data:" lines of one
// event are joined, a blank line ends the event, ":" lines are comments
// (heartbeats). Each event's data holds one or more JSON objects
// (Marathon-LB saw several in one event). A data part that is not JSON,
// or a line longer than maxEventBytes, ends the stream with errGarbage.
func readEvents(r io.Reader, activity func(), event func(Event)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var data bytes.Buffer
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		activity()
		switch {
		case len(line) == 0:
			if data.Len() > 0 {
				if err := dispatch(data.Bytes(), event); err != nil {
					return err
				}
				data.Reset()
			}
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
			if data.Len() > maxEventBytes {
				return fmt.Errorf("%w: event over %d bytes", errGarbage, maxEventBytes)
			}
		case bytes.HasPrefix(line, []byte("event:")), bytes.HasPrefix(line, []byte("id:")), bytes.HasPrefix(line, []byte("retry:")):
		default:
			return fmt.Errorf("%w: line %q is not server-sent events", errGarbage, truncate(line))
		}
	}
}

func dispatch(data []byte, event func(Event)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var ev Event
		err := dec.Decode(&ev)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil || ev.EventType == "" {
			return fmt.Errorf("%w: data %q is not a Marathon event: %v", errGarbage, truncate(data), err)
		}
		event(ev)
	}
}

// readLine reads one line without its "\n" or "\r\n".
func readLine(br *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		part, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, part...)
			if len(long) > maxEventBytes {
				return nil, fmt.Errorf("%w: line over %d bytes", errGarbage, maxEventBytes)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if long != nil {
			part = append(long, part...)
		}
		part = bytes.TrimSuffix(part, []byte("\n"))
		return bytes.TrimSuffix(part, []byte("\r")), nil
	}
}

func truncate(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
