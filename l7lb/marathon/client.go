package marathon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client defaults.
const (
	// DefaultTimeout bounds one request (connect, answer and body) to one
	// Marathon: a Marathon that accepts and never answers costs this
	// long, then the next URL is tried.
	DefaultTimeout = 10 * time.Second
	dialTimeout    = 3 * time.Second
	// maxAnswerBytes bounds an answer (1,000 apps with their tasks are a
	// few MB).
	maxAnswerBytes = 256 << 20
	userAgent      = "dcnet-l7lb"
)

// Client reads apps and events from one of several Marathons: the one
// that answered last is asked first, the others in order after it.
type Client struct {
	urls    []*url.URL
	http    *http.Client
	stream  *http.Client
	timeout time.Duration

	mu        sync.Mutex
	preferred int
}

// NewClient returns a client of the Marathons at urls ("http://m1:8080";
// a bare host:port means http; user:password@ in a URL is sent as basic
// auth). timeout bounds one request (0: DefaultTimeout).
func NewClient(urls []string, timeout time.Duration) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("marathon: no URL given")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &Client{timeout: timeout}
	for _, s := range urls {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("marathon URL %q: want http://host:port", s)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		c.urls = append(c.urls, u)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	c.http = &http.Client{Transport: tr, Timeout: timeout}
	// The stream lives long: only the connect and the answer's header
	// are bounded (the source's idle timer bounds the silence).
	c.stream = &http.Client{Transport: tr}
	return c, nil
}

// URLs lists the Marathons, the preferred first.
func (c *Client) URLs() []string {
	var out []string
	for _, u := range c.order() {
		out = append(out, u.Redacted())
	}
	return out
}

func (c *Client) order() []*url.URL {
	c.mu.Lock()
	p := c.preferred
	c.mu.Unlock()
	out := make([]*url.URL, 0, len(c.urls))
	for i := range c.urls {
		out = append(out, c.urls[(p+i)%len(c.urls)])
	}
	return out
}

func (c *Client) prefer(u *url.URL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.urls {
		if c.urls[i] == u {
			c.preferred = i
		}
	}
}

// each calls try with every Marathon in order until one succeeds; the
// error names every failure.
func (c *Client) each(ctx context.Context, try func(u *url.URL) error) (string, error) {
	var errs []error
	for _, u := range c.order() {
		err := try(u)
		if err == nil {
			c.prefer(u)
			return u.Redacted(), nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", errors.Join(errs...)
}

// Apps lists every app with its tasks (GET /v2/apps?embed=apps.tasks)
// from the first Marathon that gives a valid answer; from says which.
func (c *Client) Apps(ctx context.Context) (apps []App, from string, err error) {
	from, err = c.each(ctx, func(u *url.URL) error {
		data, err := c.get(ctx, u, "/v2/apps", "embed=apps.tasks")
		if err != nil {
			return err
		}
		apps, err = DecodeApps(data)
		if err != nil {
			return fmt.Errorf("GET %s/v2/apps: %w", u.Redacted(), err)
		}
		return nil
	})
	return apps, from, err
}

// App reads one app with its tasks; found is false when Marathon answers
// 404 (the app was deleted).
func (c *Client) App(ctx context.Context, id string) (app App, found bool, err error) {
	_, err = c.each(ctx, func(u *url.URL) error {
		data, err := c.get(ctx, u, "/v2/apps"+escapeID(id), "embed=app.tasks")
		var nf *notFound
		if errors.As(err, &nf) {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		var r AppResponse
		if err := json.Unmarshal(data, &r); err != nil || r.App.ID == "" {
			return fmt.Errorf("GET %s/v2/apps%s: not a Marathon app answer: %v", u.Redacted(), id, err)
		}
		app, found = r.App, true
		return nil
	})
	return app, found, err
}

// escapeID escapes each segment of an app ID ("/group/web").
func escapeID(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/" + strings.Join(parts, "/")
}

type notFound struct{ url string }

func (e *notFound) Error() string { return e.url + ": 404 Not Found" }

func (c *Client) get(ctx context.Context, base *url.URL, path, query string) ([]byte, error) {
	u := *base
	u.Path += path
	u.RawQuery = query
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, &notFound{url: u.Redacted()}
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %s", u.Redacted(), resp.Status, strings.TrimSpace(string(b)))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read answer: %w", u.Redacted(), err)
	}
	if len(data) > maxAnswerBytes {
		return nil, fmt.Errorf("GET %s: answer over %d bytes", u.Redacted(), maxAnswerBytes)
	}
	return data, nil
}
