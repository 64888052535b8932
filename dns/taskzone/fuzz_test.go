package taskzone

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/server"
)

// FuzzBuild feeds arbitrary etcd values to Build: it must not panic, and
// every record it returns must be an A or AAAA record inside the task zone.
func FuzzBuild(f *testing.F) {
	f.Add([]byte(`[{"name":"web.marathon.agentip.dcos.thisdcos.directory.","type":"A","value":"10.0.0.4"}]`))
	f.Add([]byte(`[{"name":"x.dcos.thisdcos.directory","type":"AAAA","value":"::ffff:1.2.3.4"}]`))
	f.Add([]byte(`[{"name":"..","type":"A","value":"1.2.3.4"}]`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rrs, _, err := Build(b)
		if err != nil {
			return
		}
		for _, rr := range rrs {
			h := rr.Header()
			if (h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA) || !dns.IsSubDomain(server.TaskZone, h.Name) {
				t.Fatalf("Build(%q) returned %v", b, rr)
			}
		}
	})
}
