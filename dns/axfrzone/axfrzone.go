package axfrzone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
)

// Zone is the zone the records are served in.
const Zone = "mesos.thisdcos.directory."

// Defaults of a Poller.
const (
	// DefaultRefresh is the time between two polls (dcos-dns's
	// mesos_dns_timeout).
	DefaultRefresh = 30 * time.Second
	// DefaultTimeout bounds one request.
	DefaultTimeout = 10 * time.Second
	// maxAXFRBytes bounds an answer.
	maxAXFRBytes = 256 << 20
	// minRetry and maxBackoff bound the wait after failures.
	minRetry   = time.Second
	maxBackoff = time.Minute
)

// URL is the /v1/axfr URL of the Mesos-DNS of server ("ip" or "ip:port",
// a --mesos-dns server: the DNS port is dropped), on Mesos-DNS's HTTP
// port.
func URL(server string) string {
	host := server
	if h, _, err := net.SplitHostPort(server); err == nil {
		host = h
	}
	return "http://" + net.JoinHostPort(strings.Trim(host, "[]"), dnsapi.MesosHTTPPort) + dnsapi.PathAXFR
}

// Parse reads a Mesos-DNS /v1/axfr answer and returns its records renamed
// under Zone (records.Rename), lower-cased. Entries that cannot be served
// are left out, each with a warning in the set's Warnings.
func Parse(data []byte) (records.RecordSet, error) {
	var ax dnsapi.AXFR
	if err := json.Unmarshal(data, &ax); err != nil {
		return records.RecordSet{}, fmt.Errorf("axfr: %w", err)
	}
	domain := strings.Trim(strings.ToLower(ax.Domain), ".")
	if domain == "" {
		domain = "mesos"
	}
	b := records.NewBuilder()
	for kind, m := range map[string]map[string][]string{"A": ax.Records.As, "AAAA": ax.Records.AAAAs} {
		for name, vals := range m {
			for _, v := range vals {
				ip, err := netip.ParseAddr(v)
				if err != nil || ip.Zone() != "" || (kind == "A") != ip.Unmap().Is4() {
					b.Warn(fmt.Sprintf("axfr %s %s: %q is not an %s address", kind, name, v, map[bool]string{true: "IPv4", false: "IPv6"}[kind == "A"]))
					continue
				}
				b.AddIP(name, ip.Unmap())
			}
		}
	}
	for name, vals := range ax.Records.SRVs {
		for _, v := range vals {
			target, port, ok := strings.Cut(v, ":")
			p, err := strconv.ParseUint(port, 10, 16)
			if !ok || err != nil || target == "" {
				b.Warn(fmt.Sprintf("axfr SRV %s: %q is not target:port", name, v))
				continue
			}
			b.AddSRV(name, target, uint16(p))
		}
	}
	raw := b.RecordSet()
	rs := records.Rename(&raw, domain, Zone)
	rs.Warnings = append(raw.Warnings, rs.Warnings...)
	return rs, nil
}

// Config says where the answers come from.
type Config struct {
	// URLs are Mesos-DNS /v1/axfr URLs, one per master.
	URLs []string
	// Refresh is the time between two polls; 0 means DefaultRefresh.
	Refresh time.Duration
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Poller polls the URLs into a zone.
type Poller struct {
	cfg    Config
	zone   *server.RecordSetZone
	client *http.Client
	log    *slog.Logger

	mu        sync.Mutex
	preferred int    // index of the URL that answered last
	etag      string // of the last good answer, for If-None-Match
	digest    uint64 // of its bytes
}

var digestSeed = maphash.MakeSeed()

// NewPoller returns a poller serving into zone (named Zone).
func NewPoller(cfg Config, zone *server.RecordSetZone, log *slog.Logger) *Poller {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Poller{cfg: cfg, zone: zone, client: &http.Client{}, log: log}
}

// Poll asks the URLs (the one that answered last first) until one gives
// a good answer, and serves it; an unchanged answer changes nothing. It
// returns an error when none did; the zone then stays as it was.
func (p *Poller) Poll(ctx context.Context) error {
	p.mu.Lock()
	first := p.preferred
	p.mu.Unlock()
	var errs []error
	for i := range p.cfg.URLs {
		idx := (first + i) % len(p.cfg.URLs)
		err := p.pollURL(ctx, p.cfg.URLs[idx])
		if err == nil {
			p.mu.Lock()
			p.preferred = idx
			p.mu.Unlock()
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("no mesos-dns answered: %w", errors.Join(errs...))
}

// pollURL asks one URL.
func (p *Poller) pollURL(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	p.mu.Lock()
	etag, last := p.etag, p.digest
	p.mu.Unlock()
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(io.LimitReader(resp.Body, maxAXFRBytes+1)); err != nil {
		return fmt.Errorf("GET %s: read: %w", u, err)
	}
	if body.Len() > maxAXFRBytes {
		return fmt.Errorf("GET %s: answer larger than %d bytes", u, maxAXFRBytes)
	}
	d := maphash.Bytes(digestSeed, body.Bytes()) | 1
	if d != last {
		rs, err := Parse(body.Bytes())
		if err != nil {
			return fmt.Errorf("GET %s: %w", u, err)
		}
		p.zone.Set(&rs)
		p.log.Info("mesos.thisdcos.directory updated", "from", u, "records", rs.Len(), "warnings", len(rs.Warnings))
		for i, w := range rs.Warnings {
			if i == 10 {
				p.log.Warn("mesos.thisdcos.directory: more entries left out", "count", len(rs.Warnings)-i)
				break
			}
			p.log.Warn("mesos.thisdcos.directory: entry left out", "why", w)
		}
	}
	p.mu.Lock()
	p.etag, p.digest = resp.Header.Get("ETag"), d
	p.mu.Unlock()
	return nil
}

// Run polls until ctx ends: at once, then every Refresh; while no URL
// answers, again after a second, doubling up to a minute (or Refresh if
// longer), so a node started before its masters gets the zone soon.
func (p *Poller) Run(ctx context.Context) {
	wait := minRetry
	for {
		err := p.Poll(ctx)
		if ctx.Err() != nil {
			return
		}
		next := p.cfg.Refresh
		if err != nil {
			p.log.Warn("mesos.thisdcos.directory: poll failed, serving the last good records", "err", err, "retry", wait)
			next, wait = wait, min(2*wait, max(maxBackoff, p.cfg.Refresh))
		} else {
			wait = minRetry
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
