package build

import (
	"encoding/json"
	"net/netip"
	"os"
	"regexp"
	"testing"

	"github.com/dcnet/dcnet/l7lb/marathon"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// FuzzBuildMarathonLB: whatever the apps and labels, the build does not
// panic and gives a consistent Config: names in HAProxy's character set
// and unique, routes and defaults pointing at existing backends, every
// server with an address and a key.
func FuzzBuildMarathonLB(f *testing.F) {
	for _, in := range []string{"testdata/mlb_basic.in.json", "testdata/mlb_labels.in.json"} {
		if data, err := os.ReadFile(in); err == nil {
			var g struct {
				Apps json.RawMessage `json:"apps"`
			}
			json.Unmarshal(data, &g)
			f.Add([]byte(g.Apps))
		}
	}
	read := testFiles(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var apps []marathon.App
		if json.Unmarshal(data, &apps) != nil {
			return
		}
		for i := range apps {
			for j := range apps[i].Tasks {
				apps[i].Tasks[j].HostIP, _ = netip.ParseAddr(apps[i].Tasks[j].Host)
			}
		}
		o := DefaultMarathonLB()
		o.Groups = []string{"*"}
		o.SSLCerts = []string{"/etc/ssl/cert.pem"}
		out := BuildMarathonLB(Inputs{Apps: apps, ReadFile: read}, o)
		backends := map[string]bool{}
		for _, b := range out.Config.Backends {
			if !nameRE.MatchString(b.Name) || backends[b.Name] {
				t.Fatalf("backend name %q bad or repeated", b.Name)
			}
			backends[b.Name] = true
			for _, s := range b.Servers {
				if s.Key == "" || !s.Addr.IsValid() || s.Addr.Port() == 0 {
					t.Fatalf("server %+v of %s", s, b.Name)
				}
			}
		}
		fes := map[string]bool{}
		for _, f := range out.Config.Frontends {
			if !nameRE.MatchString(f.Name) || fes[f.Name] || f.Bind.Port() == 0 {
				t.Fatalf("frontend %q bad, repeated or without a port", f.Name)
			}
			fes[f.Name] = true
			if f.Default != "" && !backends[f.Default] {
				t.Fatalf("frontend %s defaults to missing backend %s", f.Name, f.Default)
			}
			for _, r := range f.Routes {
				if !backends[r.Backend] {
					t.Fatalf("route %+v to a missing backend", r)
				}
			}
		}
	})
}
