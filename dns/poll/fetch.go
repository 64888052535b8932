package poll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcnet/dcnet/dns/mesos"
)

// StatePath is the Mesos master endpoint of the state document.
const StatePath = "/master/state"

// DefaultTimeout bounds one request to a master.
const DefaultTimeout = 5 * time.Second

// maxStateBytes bounds a state document read from a master or a file.
const maxStateBytes = 256 << 20

// HTTPFetcher fetches the state from Mesos masters, following the leader.
type HTTPFetcher struct {
	masters []*url.URL
	client  *http.Client
	timeout time.Duration

	mu        sync.Mutex
	preferred *url.URL // the master or leader that answered last
}

var _ Fetcher = (*HTTPFetcher)(nil)

// NewHTTPFetcher returns a fetcher of masters: URLs "http://10.0.0.1:5050"
// (a bare "ip:port" or "host:port" means http); timeout bounds each
// request (0: DefaultTimeout); client nil uses a plain http.Client.
func NewHTTPFetcher(masters []string, timeout time.Duration, client *http.Client) (*HTTPFetcher, error) {
	if len(masters) == 0 {
		return nil, errors.New("mesos masters: none given")
	}
	f := &HTTPFetcher{client: client, timeout: timeout}
	if f.client == nil {
		f.client = &http.Client{}
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	for _, m := range masters {
		u, err := ParseMasterURL(m)
		if err != nil {
			return nil, err
		}
		f.masters = append(f.masters, u)
	}
	return f, nil
}

// ParseMasterURL parses a master as given on the command line:
// "http://10.0.0.1:5050", "https://master.example:5050" or "10.0.0.1:5050".
func ParseMasterURL(s string) (*url.URL, error) {
	raw := s
	if !strings.Contains(s, "://") {
		raw = "http://" + s
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("mesos master %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("mesos master %q: scheme %q, want http or https", s, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("mesos master %q: no host, want http://ip:port", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// Masters returns the configured masters' host:port, in order.
func (f *HTTPFetcher) Masters() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.masters))
	for i, u := range f.masters {
		out[i] = u.Host
	}
	return out
}

// SetMasters replaces the masters (as NewHTTPFetcher takes them) and asks
// the first of them first from now on: the leader ZooKeeper names, say.
// Safe to call while fetches run; an empty list or a bad master changes
// nothing and is an error.
func (f *HTTPFetcher) SetMasters(masters []string) error {
	if len(masters) == 0 {
		return errors.New("mesos masters: none given")
	}
	us := make([]*url.URL, 0, len(masters))
	for _, m := range masters {
		u, err := ParseMasterURL(m)
		if err != nil {
			return err
		}
		us = append(us, u)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.masters, f.preferred = us, us[0]
	return nil
}

// Fetch implements Fetcher: the master (or leader) that answered last
// first, then every configured master in order.
func (f *HTTPFetcher) Fetch(ctx context.Context) (mesos.State, string, error) {
	r, err := f.FetchIfChanged(ctx, 0)
	return r.State, r.From, err
}

// FetchIfChanged implements ChangeFetcher: as Fetch, but a master whose
// document has digest last is not parsed (Result.Unchanged).
func (f *HTTPFetcher) FetchIfChanged(ctx context.Context, last Digest) (Result, error) {
	var errs []error
	for _, m := range f.order() {
		r, from, err := f.fromMaster(ctx, m, last)
		if err == nil {
			f.mu.Lock()
			f.preferred = from
			f.mu.Unlock()
			r.From = from.String()
			return r, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return Result{}, fmt.Errorf("no mesos master answered: %w", errors.Join(errs...))
}

// order is the masters in the order FetchIfChanged asks them.
func (f *HTTPFetcher) order() []*url.URL {
	f.mu.Lock()
	defer f.mu.Unlock()
	order := make([]*url.URL, 0, len(f.masters)+1)
	if f.preferred != nil {
		order = append(order, f.preferred)
	}
	for _, m := range f.masters {
		if f.preferred == nil || m.String() != f.preferred.String() {
			order = append(order, m)
		}
	}
	return order
}

// fromMaster asks m and, when m is not the leader, the leader it names. A
// document with digest last was accepted before: it is the leader's, and
// is not parsed again.
func (f *HTTPFetcher) fromMaster(ctx context.Context, m *url.URL, last Digest) (Result, *url.URL, error) {
	r, err := f.get(ctx, m, last)
	if err != nil || r.Unchanged {
		return r, m, err
	}
	st := r.State
	if st.Leader == "" {
		return Result{}, nil, fmt.Errorf("mesos master %s: no leader elected", m.Host)
	}
	if st.PID == st.Leader {
		return r, m, nil
	}
	leader, err := leaderURL(m, st.Leader)
	if err != nil {
		return Result{}, nil, fmt.Errorf("mesos master %s: %w", m.Host, err)
	}
	lr, err := f.get(ctx, leader, last)
	if err != nil {
		return Result{}, nil, fmt.Errorf("mesos master %s names leader %s: %w", m.Host, st.Leader, err)
	}
	if lst := lr.State; !lr.Unchanged && lst.Leader != "" && lst.PID != lst.Leader {
		return Result{}, nil, fmt.Errorf("mesos master %s names leader %s, which names %s", m.Host, st.Leader, lst.Leader)
	}
	return lr, leader, nil
}

// leaderURL is the URL of the master with PID pid, reached like m.
func leaderURL(m *url.URL, pid string) (*url.URL, error) {
	p, err := mesos.ParsePID(pid)
	if err != nil {
		return nil, fmt.Errorf("leader %q: %w", pid, err)
	}
	return &url.URL{Scheme: m.Scheme, Host: net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))}, nil
}

// get reads <m>/master/state within the fetcher's timeout and parses it
// unless its digest is last.
func (f *HTTPFetcher) get(ctx context.Context, m *url.URL, last Digest) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	u := m.JoinPath(StatePath).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Result{}, fmt.Errorf("mesos master %s: %w", m.Host, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("mesos master %s: %w", m.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return Result{}, fmt.Errorf("mesos master %s: GET %s: %s", m.Host, u, resp.Status)
	}
	var body bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= maxStateBytes {
		body.Grow(int(resp.ContentLength))
	}
	if _, err := body.ReadFrom(io.LimitReader(resp.Body, maxStateBytes)); err != nil {
		return Result{}, fmt.Errorf("mesos master %s: GET %s: read: %w", m.Host, u, err)
	}
	r := Result{Digest: digestOf(body.Bytes())}
	if r.Digest == last {
		r.Unchanged = true
		return r, nil
	}
	if r.State, err = mesos.ParseState(&body); err != nil {
		return Result{}, fmt.Errorf("mesos master %s: GET %s: %w", m.Host, u, err)
	}
	return r, nil
}

// FileFetcher reads the state from a file (a saved /master/state), every
// time it is asked, so a changed file is picked up at the next poll.
type FileFetcher struct {
	// Path is the state file.
	Path string
}

var _ Fetcher = FileFetcher{}

// Fetch implements Fetcher.
func (f FileFetcher) Fetch(ctx context.Context) (mesos.State, string, error) {
	r, err := f.FetchIfChanged(ctx, 0)
	return r.State, r.From, err
}

// FetchIfChanged implements ChangeFetcher: the file is hashed as it is
// read and parsed only when its digest is not last. A file replaced
// between the two reads is parsed in its new form under the old digest,
// so the next poll parses it again: the zone never lags behind the file.
func (f FileFetcher) FetchIfChanged(_ context.Context, last Digest) (Result, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return Result{}, fmt.Errorf("mesos state: %w", err)
	}
	defer fh.Close()
	var h maphash.Hash
	h.SetSeed(digestSeed)
	if _, err := io.Copy(&h, io.LimitReader(fh, maxStateBytes)); err != nil {
		return Result{}, fmt.Errorf("mesos state %s: %w", f.Path, err)
	}
	r := Result{From: f.Path, Digest: Digest(h.Sum64() | 1)}
	if r.Digest == last {
		r.Unchanged = true
		return r, nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return Result{}, fmt.Errorf("mesos state %s: %w", f.Path, err)
	}
	if r.State, err = mesos.ParseState(io.LimitReader(fh, maxStateBytes)); err != nil {
		return Result{}, fmt.Errorf("mesos state %s: %w", f.Path, err)
	}
	return r, nil
}

// Digest identifies a state document's bytes within this process (0: none).
type Digest uint64

// digestSeed keys the digests of this process.
var digestSeed = maphash.MakeSeed()

// digestOf is the digest of b, never 0.
func digestOf(b []byte) Digest { return Digest(maphash.Bytes(digestSeed, b) | 1) }
