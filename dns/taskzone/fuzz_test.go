package taskzone

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/server"
)

// FuzzDecode feeds arbitrary keys and etcd values to Decode: it must not
// panic, and a name it accepts must be inside the task zone with only
// valid addresses.
func FuzzDecode(f *testing.F) {
	f.Add(cluster.TaskNamesPrefix+"web.marathon.agentip.dcos.thisdcos.directory.", []byte(`["10.0.0.4"]`))
	f.Add(cluster.TaskNamesPrefix+"x.dcos.thisdcos.directory", []byte(`["::ffff:1.2.3.4","fd01::1"]`))
	f.Add(cluster.TaskNamesPrefix+"..", []byte(`["1.2.3.4"]`))
	f.Add(cluster.TaskNamesKey, []byte(`[{"name":"x"}]`))
	f.Add(cluster.TaskNamesPrefix+"a.dcos.thisdcos.directory.", []byte(`{`))
	f.Fuzz(func(t *testing.T, key string, b []byte) {
		name, addrs, _, err := Decode(key, b)
		if err != nil {
			return
		}
		if !dns.IsSubDomain(server.TaskZone, name) || name == server.TaskZone {
			t.Fatalf("Decode(%q, %q) name %q", key, b, name)
		}
		for _, ip := range addrs {
			if !ip.IsValid() || ip.Is4In6() {
				t.Fatalf("Decode(%q, %q) address %v", key, b, ip)
			}
		}
	})
}
