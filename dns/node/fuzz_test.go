package node

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseCNAME: any --cname value either is refused or builds a zone
// answering its name with one CNAME to its target.
func FuzzParseCNAME(f *testing.F) {
	for _, s := range []string{"registry.component.thisdcos.directory=master.mesos", "a=b", "=", "a.b=a.b", ".=x", "a=b=c", "é=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := ParseCNAME(spec)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCNAME(%q) = %+v, which Validate refuses: %v", spec, c, err)
		}
		rrs, ok := c.Zone().Lookup(c.Name, dns.TypeA)
		if !ok || len(rrs) != 1 || rrs[0].(*dns.CNAME).Target != c.Target {
			t.Fatalf("zone of %+v answers %v %v", c, rrs, ok)
		}
	})
}
