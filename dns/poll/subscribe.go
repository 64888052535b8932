package poll

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Subscriber holds a SUBSCRIBE stream of the Mesos master operator API
// (POST <master>/api/v1, {"type":"SUBSCRIBE"}) open and calls OnEvent for
// every event but HEARTBEAT, so that a Poller can read the new state at
// once (Poller.Kick) instead of at the end of its interval. It only uses
// the events as a signal: the records still come from /master/state,
// whose reading is tested and shared with the periodic poll, so a missed
// or garbled event costs at most one interval.
type Subscriber struct {
	// Fetcher gives the masters, the one that answered last first.
	Fetcher *HTTPFetcher
	// OnEvent gets the type of each event but HEARTBEAT ("SUBSCRIBED",
	// "TASK_ADDED", "TASK_UPDATED", ...; "" when the type is not the
	// first field). Called from Run's goroutine; must not block.
	OnEvent func(typ string)
	// Log gets connects and failures; nil discards them.
	Log *slog.Logger
	// Idle ends a stream that brought nothing, not even a HEARTBEAT
	// (Mesos sends one every 15 s), for this long; default DefaultIdle.
	Idle time.Duration
	// Client makes the requests; nil: the Fetcher's client without its
	// overall timeout (the stream is long-lived; the Fetcher's timeout
	// bounds the connect and the response header instead).
	Client *http.Client
}

// Defaults of a Subscriber.
const (
	// DefaultIdle is three Mesos heartbeat intervals.
	DefaultIdle = 45 * time.Second
	// subscribeRetryMin and subscribeRetryMax bound the wait between
	// two attempts.
	subscribeRetryMin = time.Second
	subscribeRetryMax = 30 * time.Second
	// stableStream is how long a stream must last to reset the backoff.
	stableStream = 10 * time.Second
	// maxFrame bounds one RecordIO frame's length (SUBSCRIBED carries the
	// whole state; it is skipped, not held in memory).
	maxFrame = 1 << 30
)

// Run keeps a stream open until ctx ends: the masters in the Fetcher's
// order (a master that is not the leader redirects to it), again after a
// stream ends, waiting 1 s doubling up to 30 s while no master accepts.
func (s *Subscriber) Run(ctx context.Context) {
	wait := subscribeRetryMin
	for ctx.Err() == nil {
		for _, m := range s.Fetcher.order() {
			start := time.Now()
			events, err := s.stream(ctx, m)
			if ctx.Err() != nil {
				return
			}
			s.log().Info("mesos events: stream ended, subscribing again", "master", m.Host, "events", events, "err", err)
			if events > 0 {
				// A stream that lasted resets the backoff; one that a
				// master ends at once (each SUBSCRIBED costs it its whole
				// state) keeps backing off.
				if time.Since(start) >= stableStream {
					wait = subscribeRetryMin
				}
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, subscribeRetryMax)
	}
}

func (s *Subscriber) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// stream subscribes at m and reads events until the stream ends; it
// returns how many frames it read.
func (s *Subscriber) stream(ctx context.Context, m *url.URL) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := *m
	u.Path += "/api/v1"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader([]byte(`{"type":"SUBSCRIBE"}`)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := s.Client
	if client == nil {
		// The fetcher's client (its transport: TLS, proxies), without an
		// overall timeout: the stream is long-lived.
		c := *s.Fetcher.client
		c.Timeout = 0
		client = &c
	}
	// The connect and the response header get the fetch timeout; the
	// stream then lives as long as frames (or heartbeats) arrive.
	idle := s.Idle
	if idle <= 0 {
		idle = DefaultIdle
	}
	timer := time.AfterFunc(s.Fetcher.timeout, cancel)
	defer timer.Stop()
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("subscribe %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("subscribe %s: %s: %s", u.Redacted(), resp.Status, bytes.TrimSpace(b))
	}
	s.log().Info("mesos events: subscribed", "master", resp.Request.URL.Host)
	timer.Reset(idle)
	r := bufio.NewReader(resp.Body)
	n := 0
	for {
		typ, err := readEvent(r)
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("nothing received for %v: %w", idle, err)
			}
			return n, err
		}
		n++
		timer.Reset(idle)
		if typ != "HEARTBEAT" && s.OnEvent != nil {
			s.OnEvent(typ)
		}
	}
}

// readEvent reads one RecordIO frame ("<length>\n<length bytes of JSON>")
// and returns the event's type when it is the JSON object's first field,
// as Mesos writes it; the rest of the frame is skipped unread.
func readEvent(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errors.New("recordio: length line too long")
		}
		if err == io.EOF && len(line) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 64)
	if err != nil || n < 0 || n > maxFrame {
		return "", fmt.Errorf("recordio: bad frame length %q", bytes.TrimSpace(line))
	}
	frame := io.LimitReader(r, n)
	typ := eventType(frame)
	if _, err := io.Copy(io.Discard, frame); err != nil {
		return "", err
	}
	if rest := frame.(*io.LimitedReader).N; rest > 0 {
		return "", io.ErrUnexpectedEOF
	}
	return typ, nil
}

// eventType reads the start of an event: {"type":"X", ... gives X, any
// other start "".
func eventType(frame io.Reader) string {
	dec := json.NewDecoder(frame)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	if k, err := dec.Token(); err != nil || k != "type" {
		return ""
	}
	if v, err := dec.Token(); err == nil {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}
