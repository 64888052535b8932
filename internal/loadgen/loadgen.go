// Package loadgen is a bounded HTTP and TCP load generator that counts
// every failed request by kind (5xx, reset, refused, timeout, closed,
// TLS, other) and reports latency percentiles by nearest rank. Its
// connections come from a Dial function, so a test can load a server from
// inside a network namespace (netsim.Namespace.DialTCP).
//
// The HTTP client is deliberately small: it writes the request itself and
// parses the answer with net/http's ReadResponse, so no transport retries
// hide a failure. The one retry it does is the one HTTP/1.1 allows and
// browsers do (RFC 9112, 9.3.1): a request on a reused keep-alive
// connection that the server closed before sending any byte is sent again
// on a new connection once, and counted in Result.Retried.
package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kinds of outcome.
const (
	KindOK       = "ok"
	Kind5xx      = "5xx"
	Kind4xx      = "4xx"
	KindReset    = "reset"
	KindRefused  = "refused"
	KindTimeout  = "timeout"
	KindClosed   = "closed" // connection closed before a complete answer
	KindTLS      = "tls"
	KindOther    = "other"
	maxBodies    = 100
	maxBodyBytes = 64
)

// DefaultMaxSamples bounds the latencies kept for percentiles.
const DefaultMaxSamples = 2_000_000

// Config is one load run.
type Config struct {
	// Dial opens connections; nil dials from the caller's namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Addr is host:port to connect to.
	Addr string
	// TCP sends nothing and reads the answer until EOF (a backend that
	// says who it is); otherwise HTTP/1.1 GET.
	TCP bool
	// Host and Path of the HTTP request (default Addr and "/").
	Host, Path string
	// KeepAlive reuses each worker's connection; otherwise every request
	// has its own connection ("Connection: close").
	KeepAlive bool
	// TLS, when set, wraps every connection (ServerName from Host).
	TLS *tls.Config
	// Workers run in parallel, each one request at a time (default 1).
	Workers int
	// Duration and Requests bound the run (the first reached ends it); at
	// least one must be set.
	Duration time.Duration
	Requests int
	// Timeout bounds one request, dial included (default 5 s).
	Timeout time.Duration
	// MaxSamples bounds the latencies kept (default DefaultMaxSamples).
	MaxSamples int
}

// Result is what a run saw.
type Result struct {
	Requests int
	// Kinds counts outcomes by kind (KindOK...).
	Kinds map[string]int
	// Status counts HTTP answers by status code.
	Status map[int]int
	// Bodies counts answers by body (up to 64 bytes, at most 100
	// distinct bodies).
	Bodies map[string]int
	// Retried counts keep-alive requests sent again after the server
	// closed an idle connection before answering (not failures).
	Retried int
	// Errors keeps one example error per failure kind.
	Errors  map[string]string
	Elapsed time.Duration
	// latencies of answered requests, sorted.
	latencies []time.Duration
}

// Failed counts requests that got no good answer: 5xx, resets, refused
// connections, timeouts, closed connections, TLS and other errors. 4xx
// answers are answers.
func (r *Result) Failed() int {
	n := 0
	for k, c := range r.Kinds {
		if k != KindOK && k != Kind4xx {
			n += c
		}
	}
	return n
}

// Percentile returns the p-th percentile latency (0 < p <= 100) by
// nearest rank: the smallest sample with at least p% of the samples at
// or below it.
func (r *Result) Percentile(p float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	rank := int(p/100*float64(n) + 0.999999999)
	rank = max(1, min(n, rank))
	return r.latencies[rank-1]
}

// Rate is answered requests per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.Elapsed.Seconds()
}

func (r *Result) String() string {
	var kinds []string
	for k, n := range r.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d requests in %v (%.0f/s): %s, retried %d; p50 %v p99 %v max %v",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Rate(), strings.Join(kinds, " "), r.Retried,
		r.Percentile(50), r.Percentile(99), r.Percentile(100))
}

// Run runs cfg until its bound or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	l, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return l.Wait(), nil
}

// Load is a run in the background.
type Load struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    *Result
}

// Start starts cfg in the background; Stop or Wait ends it.
func Start(ctx context.Context, cfg Config) (*Load, error) {
	if cfg.Addr == "" {
		return nil, errors.New("loadgen: Addr is required")
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return nil, errors.New("loadgen: set Duration or Requests (a run must be bounded)")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxSamples <= 0 {
		cfg.MaxSamples = DefaultMaxSamples
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Host == "" {
		cfg.Host = cfg.Addr
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cancel: cancel, done: make(chan struct{})}
	go l.run(ctx, cfg)
	return l, nil
}

// Stop ends the run and returns its result.
func (l *Load) Stop() *Result {
	l.cancel()
	return l.Wait()
}

// Wait waits for the run's bound and returns its result.
func (l *Load) Wait() *Result {
	<-l.done
	return l.res
}

func (l *Load) run(ctx context.Context, cfg Config) {
	defer close(l.done)
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	var mu sync.Mutex
	res := &Result{Kinds: map[string]int{}, Status: map[int]int{}, Bodies: map[string]int{}, Errors: map[string]string{}}
	var left chan struct{}
	if cfg.Requests > 0 {
		left = make(chan struct{}, cfg.Requests)
		for range cfg.Requests {
			left <- struct{}{}
		}
		close(left)
	}
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{cfg: cfg}
			defer w.close()
			for ctx.Err() == nil {
				if left != nil {
					if _, ok := <-left; !ok {
						return
					}
				}
				o := w.do(ctx)
				if o.kind != KindOK && ctx.Err() != nil {
					return // cut by the end of the run, not a failure
				}
				mu.Lock()
				res.add(o, cfg.MaxSamples)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	l.res = res
}

func (r *Result) add(o outcome, maxSamples int) {
	r.Requests++
	r.Kinds[o.kind]++
	r.Retried += o.retried
	if o.status != 0 {
		r.Status[o.status]++
	}
	if o.err != nil && r.Errors[o.kind] == "" {
		r.Errors[o.kind] = o.err.Error()
	}
	if o.kind == KindOK || o.kind == Kind4xx || o.kind == Kind5xx {
		if len(r.latencies) < maxSamples {
			r.latencies = append(r.latencies, o.latency)
		}
		if _, ok := r.Bodies[o.body]; ok || len(r.Bodies) < maxBodies {
			r.Bodies[o.body]++
		}
	}
}
