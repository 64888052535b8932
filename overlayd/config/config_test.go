package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultIsDCOS(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := []Overlay{
		{Name: "dcos", Subnet: "9.0.0.0/8", Prefix: 24, Bridge: "m-dcos", MTU: 1420},
		{Name: "dcos6", Subnet6: "fd01:b::/64", Prefix6: 80, Bridge: "m-dcos6", MTU: 1420},
	}
	if diff := cmp.Diff(want, c.Overlays); diff != "" {
		t.Errorf("default overlays (-want +got):\n%s", diff)
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"overlays":[{"name":"blue","subnet":"10.8.0.0/16","prefix":24}]}`))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Overlays[0]
	if o.Bridge != "m-blue" || o.MTU != DefaultMTU || !o.MasqueradeOn() {
		t.Errorf("defaults not applied: %+v", o)
	}
	if c.ReconcileInterval.Duration != DefaultReconcile || c.LeaseTTL.Duration != DefaultLeaseTTL {
		t.Errorf("durations: %v %v", c.ReconcileInterval, c.LeaseTTL)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"syntax", `{"overlays": [}`, "invalid JSON at line 1"},
		{"type", `{"metricsAddr": 5}`, `field "metricsAddr": want string`},
		{"unknown field", `{"overlay": []}`, `unknown field "overlay"`},
		{"trailing", `{} {}`, "trailing data"},
		{"no family", `{"overlays":[{"name":"a"}]}`, "set subnet (IPv4) or subnet6"},
		{"bad name", `{"overlays":[{"name":"Bad_Name","subnet":"9.0.0.0/8","prefix":24}]}`, `name "Bad_Name"`},
		{"bad cidr", `{"overlays":[{"name":"a","subnet":"9.0.0.0","prefix":24}]}`, `subnet "9.0.0.0": not a CIDR`},
		{"host bits", `{"overlays":[{"name":"a","subnet":"9.0.0.1/8","prefix":24}]}`, "did you mean 9.0.0.0/8"},
		{"family", `{"overlays":[{"name":"a","subnet":"fd01::/64","prefix":80}]}`, "want an IPv4 range"},
		{"prefix range", `{"overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":8}]}`, "prefix 8: out of range [9, 30]"},
		{"prefix6 range", `{"overlays":[{"name":"a","subnet6":"fd01:b::/64","prefix6":127}]}`, "prefix6 127: out of range [65, 126]"},
		{"mtu", `{"overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":24,"mtu":100}]}`, "mtu 100: out of range [576, 9000] (or \"auto\")"},
		{"bridge", `{"overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":24,"bridge":"a-very-long-bridge"}]}`, "bridge \"a-very-long-bridge\""},
		{"dup", `{"overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":24},{"name":"a","subnet":"10.0.0.0/8","prefix":24}]}`, "used twice"},
		{"overlap", `{"overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":24},{"name":"b","subnet":"9.1.0.0/16","prefix":24}]}`, "overlaps"},
		{"duration", `{"reconcileInterval":"soon"}`, "duration"},
		{"lease", `{"leaseTTL":"1s"}`, "leaseTTL 1s: must be at least 2s"},
		{"tls", `{"etcd":{"certFile":"x"}}`, "set both or neither"},
		{"underlay", `{"underlayIP":"nope"}`, `underlayIP "nope"`},
		{"vni", `{"vtep":{"vni":16777216}}`, "vtep.vni 16777216: out of range [1, 16777215]"},
		{"vtep port", `{"vtep":{"port":70000}}`, "vtep.port 70000"},
		{"vtep name", `{"vtep":{"name":"vtep-with-a-long-name"}}`, "vtep.name"},
		{"vtep subnet", `{"vtep":{"subnet":"fd01::/64"}}`, "vtep.subnet \"fd01::/64\""},
		{"vtep overlap", `{"vtep":{"subnet":"9.1.0.0/20"}}`, "overlaps overlay range 9.0.0.0/8"},
		{"grace", `{"nodeGracePeriod":"5s"}`, "nodeGracePeriod 5s"},
		{"mtu word", `{"overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":24,"mtu":"big"}]}`, `want a number or "auto"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%s) = %v, want error containing %q", tc.doc, err, tc.want)
			}
		})
	}
}

// TestShippedExamples loads every example in conf/.
func TestShippedExamples(t *testing.T) {
	files, _ := filepath.Glob("../../conf/overlayd*.json")
	if len(files) < 2 {
		t.Fatalf("expected the shipped examples in conf/, found %v", files)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("want not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestDurationRoundTrip(t *testing.T) {
	d := Duration{1500 * time.Millisecond}
	b, _ := d.MarshalJSON()
	var back Duration
	if err := back.UnmarshalJSON(b); err != nil || back != d {
		t.Fatalf("round trip %s -> %v (%v)", b, back, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24}]}`))
	f.Add([]byte(`{"overlays":[{"name":"x","subnet6":"fd01:b::/64","prefix6":80}],"leaseTTL":"3s"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
	})
}

func TestAutoMTU(t *testing.T) {
	c, err := Parse([]byte(`{"overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":24,"mtu":"auto"}]}`))
	if err != nil || c.Overlays[0].MTU != AutoMTU {
		t.Fatalf("mtu auto: %v %v", c.Overlays[0].MTU, err)
	}
	b, _ := json.Marshal(c.Overlays[0])
	if !strings.Contains(string(b), `"mtu":"auto"`) {
		t.Fatalf("marshal: %s", b)
	}
}

func TestVTEPNoTrack(t *testing.T) {
	for _, tc := range []struct {
		json string
		want bool
	}{
		{`{}`, true},
		{`{"vtep":{"noTrack":true}}`, true},
		{`{"vtep":{"noTrack":false}}`, false},
	} {
		c, err := Parse([]byte(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if got := c.VTEP.NoTrackOn(); got != tc.want {
			t.Errorf("%s: NoTrackOn() = %t, want %t", tc.json, got, tc.want)
		}
	}
}
