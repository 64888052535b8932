package metrics

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/cache"
)

type nullWriter struct{ dns.ResponseWriter }

func (nullWriter) WriteMsg(*dns.Msg) error { return nil }
func (nullWriter) RemoteAddr() net.Addr    { return &net.UDPAddr{} }

type fakeUpstream struct{ fail bool }

func (f fakeUpstream) Forward(_ context.Context, req *dns.Msg) (*dns.Msg, error) {
	if f.fail {
		return nil, errors.New("all upstreams failed")
	}
	resp := new(dns.Msg).SetReply(req)
	rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN A 192.0.2.7")
	resp.Answer = []dns.RR{rr}
	return resp, nil
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestMetrics(t *testing.T) {
	m := New("spartan.", "l4lb.thisdcos.directory.")
	h := m.Handler(dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg).SetReply(req)
		if strings.HasPrefix(req.Question[0].Name, "nope") {
			resp.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(resp)
	}))
	for _, n := range []string{"ready.spartan.", "nope.l4lb.thisdcos.directory.", "example.test."} {
		h.ServeDNS(nullWriter{}, new(dns.Msg).SetQuestion(n, dns.TypeA))
	}
	c := cache.New(cache.Config{Size: 16})
	f := m.Lookups(c.Wrap(m.Upstream(fakeUpstream{})))
	for range 3 {
		if _, err := f.Forward(context.Background(), new(dns.Msg).SetQuestion("example.test.", dns.TypeA)); err != nil {
			t.Fatal(err)
		}
	}
	m.Upstream(fakeUpstream{fail: true}).Forward(context.Background(), new(dns.Msg).SetQuestion("x.test.", dns.TypeA))
	m.FastAnswered(dns.RcodeNameError) // the UDP fast path: a forwarded query and a hit
	out := scrape(t, m)
	for _, want := range []string{
		`dcnet_dns_queries_total{rcode="NOERROR",zone="spartan."} 1`,
		`dcnet_dns_queries_total{rcode="NXDOMAIN",zone="l4lb.thisdcos.directory."} 1`,
		`dcnet_dns_queries_total{rcode="NOERROR",zone="forwarded"} 1`,
		`dcnet_dns_queries_total{rcode="NXDOMAIN",zone="forwarded"} 1`,
		`dcnet_dns_cache_lookups_total{result="hit"} 3`,
		`dcnet_dns_cache_lookups_total{result="miss"} 1`,
		`dcnet_dns_forward_duration_seconds_count{result="ok"} 1`,
		`dcnet_dns_forward_duration_seconds_count{result="error"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s:\n%s", want, out)
		}
	}
}
