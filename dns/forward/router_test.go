package forward

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

type named string

func (n named) Forward(context.Context, *dns.Msg) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.Ns = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeTXT}, Txt: []string{string(n)}}}
	return m, nil
}

func TestRouter(t *testing.T) {
	r := NewRouter(named("default"), map[string]Forwarder{"mesos": named("mesos-dns"), "corp.example.": named("corp"), "a.corp.example": named("a-corp")})
	for name, want := range map[string]string{
		"leader.mesos.":       "mesos-dns",
		"MESOS.":              "mesos-dns",
		"notmesos.":           "default",
		"x.corp.example.":     "corp",
		"y.a.corp.example.":   "a-corp",
		"example.com.":        "default",
		"thisdcos.directory.": "default",
	} {
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeA)
		resp, err := r.Forward(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Ns[0].(*dns.TXT).Txt[0]; got != want {
			t.Errorf("%s routed to %s, want %s", name, got, want)
		}
	}
}

func TestReadResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# comment\nnameserver 10.0.0.53\nnameserver fd00::53\nsearch example.com\noptions ndots:2\n"), 0o644)
	got, err := ReadResolvConf(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"10.0.0.53:53", "[fd00::53]:53"}, got); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	if _, err := ReadResolvConf(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("want an error for a missing file")
	}
}
