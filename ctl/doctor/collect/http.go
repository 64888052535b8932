package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/ctl/doctor"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

var (
	_ doctor.L4LBAPI = (*L4LB)(nil)
	_ doctor.DNSAPI  = (*DNS)(nil)
)

// maxAnswer bounds a daemon's JSON answer (10,000 VIPs of three backends
// are a few MB).
const maxAnswer = 256 << 20

// getJSON GETs path from the daemon what at addr ("host:port" or a URL)
// into out; hint tells the user which flag points at the daemon.
func getJSON(ctx context.Context, what, addr, path, hint string, out any) error {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("%s address %q: %w", what, addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s at %s: %w (is it running? pass %s)", what, addr, err, hint)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s at %s: GET %s answered %s", what, addr, path, resp.Status)
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, maxAnswer)).Decode(out); err != nil {
		return fmt.Errorf("decode %s's %s: %w", what, path, err)
	}
	return nil
}

// L4LB is dcnet-l4lb's HTTP API at Addr.
type L4LB struct{ Addr string }

// Details reads l4lbapi.PathDetails.
func (l *L4LB) Details(ctx context.Context) (l4lbapi.Details, error) {
	var d l4lbapi.Details
	err := getJSON(ctx, "dcnet-l4lb", l.Addr, l4lbapi.PathDetails, "--l4lb", &d)
	return d, err
}

// DNS is dcnet-dns: its HTTP API at Addr and its DNS servers.
type DNS struct{ Addr string }

// Records reads dnsapi.PathRecords.
func (d *DNS) Records(ctx context.Context) ([]dnsapi.Record, error) {
	var rs []dnsapi.Record
	err := getJSON(ctx, "dcnet-dns", d.Addr, dnsapi.PathRecords, "--dns", &rs)
	return rs, err
}

// Ready asks the DNS server at addr (ip or ip:port, port 53 by default)
// over UDP for the A records of dnsapi.ReadyName.
func (d *DNS) Ready(ctx context.Context, addr string) doctor.Answer {
	addr = DNSServer(addr)
	a := doctor.Answer{Server: addr}
	m := new(dns.Msg)
	m.SetQuestion(dnsapi.ReadyName, dns.TypeA)
	c := &dns.Client{Net: "udp"}
	in, _, err := c.ExchangeContext(ctx, m, addr)
	switch {
	case err != nil:
		a.Err = err.Error()
	case in.Rcode != dns.RcodeSuccess:
		a.Err = "rcode " + dns.RcodeToString[in.Rcode]
	default:
		for _, rr := range in.Answer {
			if r, ok := rr.(*dns.A); ok {
				a.Addrs = append(a.Addrs, r.A.String())
			}
		}
	}
	return a
}

// DNSServer returns addr with port 53 when it has none.
func DNSServer(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), "53")
}
