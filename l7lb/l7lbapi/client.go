package l7lbapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxAnswerBytes bounds an answer read by the Client.
const maxAnswerBytes = 64 << 20

// Client talks to one dcnet-l7lb's HTTP API.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client of the API at addr ("host:port" or a URL);
// hc nil uses http.DefaultClient.
func NewClient(addr string, hc *http.Client) *Client {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(addr, "/"), http: hc}
}

// APIError is a non-2xx answer.
type APIError struct {
	Status int
	Body   ErrorBody
}

// Error renders the answer with every field error.
func (e *APIError) Error() string {
	if len(e.Body.Fields) > 0 {
		return (&ValidationError{Errors: e.Body.Fields}).Error()
	}
	return fmt.Sprintf("dcnet-l7lb answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Body.Error)
}

// Status reads GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, PathStatus, "", nil, &s)
	return s, err
}

// Pools lists the stored pools.
func (c *Client) Pools(ctx context.Context) ([]PoolEntry, error) {
	var ps []PoolEntry
	err := c.do(ctx, http.MethodGet, PathPools, "", nil, &ps)
	return ps, err
}

// Pool reads one pool.
func (c *Client) Pool(ctx context.Context, name string) (PoolEntry, error) {
	var p PoolEntry
	err := c.do(ctx, http.MethodGet, PathPool+url.PathEscape(name), "", nil, &p)
	return p, err
}

// CreatePool stores a new pool from a JSON or YAML document.
func (c *Client) CreatePool(ctx context.Context, doc []byte) (PoolEntry, error) {
	var p PoolEntry
	err := c.do(ctx, http.MethodPost, PathPools, contentType(doc), doc, &p)
	return p, err
}

// UpdatePool replaces the pool name by a JSON or YAML document.
func (c *Client) UpdatePool(ctx context.Context, name string, doc []byte) (PoolEntry, error) {
	var p PoolEntry
	err := c.do(ctx, http.MethodPut, PathPool+url.PathEscape(name), contentType(doc), doc, &p)
	return p, err
}

// DeletePool removes a pool.
func (c *Client) DeletePool(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, PathPool+url.PathEscape(name), "", nil, nil)
}

// contentType guesses the document's type: JSON when it starts with '{'.
func contentType(doc []byte) string {
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' {
		return ContentJSON
	}
	return ContentYAML
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("dcnet-l7lb address %q: %w", c.base, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", ContentJSON)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("dcnet-l7lb at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("dcnet-l7lb at %s: read answer to %s %s: %w", c.base, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.Body) != nil || e.Body.Error == "" {
			e.Body.Error = strings.TrimSpace(string(data))
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("dcnet-l7lb at %s: decode answer to %s %s: %w", c.base, method, path, err)
	}
	return nil
}
