package records

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/dns/mesos"
)

// FuzzGenerate checks that any parseable state yields names inside the zone
// whose labels are at most 63 characters, for both label rules; only the
// legacy names that keep a DiscoveryInfo name as given may break that.
func FuzzGenerate(f *testing.F) {
	f.Add([]byte(`{"leader":"master@10.0.0.1:5050","slaves":[{"id":"a-S0","pid":"slave(1)@10.0.0.2:5051"}],"frameworks":[{"name":"M.a_r","pid":"s@10.0.0.1:1","tasks":[{"id":"t","name":"x.Y","slave_id":"a-S0","state":"TASK_RUNNING","resources":{"ports":"[1-3]"},"discovery":{"name":"d","ports":{"ports":[{"number":5,"name":"n","protocol":"udp"}]}}}]}]}`))
	f.Add([]byte(`{"leader":"master@[::1]:1"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		st, err := mesos.ParseState(bytes.NewReader(doc))
		if err != nil {
			return
		}
		var raw []string // DiscoveryInfo names, kept as given in legacy names
		for _, f := range st.Frameworks {
			for _, t := range f.Tasks {
				if t.HasDiscoveryName() {
					raw = append(raw, t.Discovery.Name)
				}
			}
		}
		legacy := func(name string) bool {
			for _, r := range raw {
				if strings.Contains(name, r) {
					return true
				}
			}
			return false
		}
		for _, rfc952 := range []bool{false, true} {
			rs, err := Generate(st, Config{EnforceRFC952: rfc952})
			if err != nil {
				continue
			}
			for _, name := range rs.Names() {
				if !strings.HasSuffix(name, ".mesos.") && name != "mesos." {
					t.Fatalf("name %q outside the zone", name)
				}
				for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
					if (l == "" || len(l) > 63) && !legacy(name) {
						t.Fatalf("name %q has label %q", name, l)
					}
				}
			}
			if _, err := TaskNames(st, Config{EnforceRFC952: rfc952}); err != nil {
				t.Fatalf("TaskNames: %v", err)
			}
		}
	})
}
