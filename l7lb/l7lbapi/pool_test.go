package l7lbapi

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// minimal is the smallest valid pool; tests edit it.
const minimal = `{"name":"web","haproxy":{
 "frontends":[{"bindPort":80,"protocol":"HTTP","linkBackend":{"defaultBackend":"web"}}],
 "backends":[{"name":"web","protocol":"HTTP","services":[{"marathon":{"serviceID":"/web"}}]}]}}`

func TestParsePoolMinimalDefaults(t *testing.T) {
	p, warns, err := ParsePool([]byte(minimal))
	if err != nil || len(warns) != 0 {
		t.Fatalf("ParsePool: %v %v", err, warns)
	}
	want := Pool{APIVersion: "V2", Name: "web", HAProxy: HAProxy{
		Frontends: []Frontend{{Name: "frontend_0.0.0.0_80", BindAddress: "0.0.0.0", BindPort: 80, Protocol: "HTTP",
			LinkBackend: LinkBackend{DefaultBackend: "web"}}},
		Backends: []Backend{{Name: "web", Protocol: "HTTP", Balance: "roundrobin",
			Services: []Service{{Marathon: &MarathonService{ServiceID: "/web"}, Endpoint: Endpoint{Type: EndpointAutoIP}}}}},
	}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("normalized pool (-want +got):\n%s", diff)
	}
}

func TestParsePoolYAMLEqualsJSON(t *testing.T) {
	y := `
name: web
haproxy:
  frontends:
  - {bindPort: 80, protocol: http, linkBackend: {defaultBackend: web}}
  backends:
  - name: web
    protocol: http
    services:
    - marathon: {serviceID: /web}
`
	py, _, err := ParsePool([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	pj, _, err := ParsePool([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pj, py); diff != "" {
		t.Errorf("YAML and JSON differ (-json +yaml):\n%s", diff)
	}
}

// TestParsePoolStoredRoundTrip: the stored (normalized) JSON parses back
// to the same pool, so a pool read from etcd validates like it did.
func TestParsePoolStoredRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../../conf/l7lb/pool-web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, warns, err := ParsePool(data)
	if err != nil || len(warns) != 0 {
		t.Fatalf("conf/l7lb/pool-web.yaml: %v %v", err, warns)
	}
	stored, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := ParsePool(stored)
	if err != nil {
		t.Fatalf("stored form does not parse: %v\n%s", err, stored)
	}
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("round trip (-first +second):\n%s", diff)
	}
}

func TestParsePoolEdgeLBPlacementIgnored(t *testing.T) {
	doc := strings.Replace(minimal, `{"name":"web",`, `{"name":"web","apiVersion":"V2","count":3,"role":"slave_public","cpus":0.5,`, 1)
	doc = strings.Replace(doc, `"haproxy":{`, `"haproxy":{"stats":{"bindPort":1025},`, 1)
	_, warns, err := ParsePool([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 3 || !strings.HasPrefix(warns[0], "count: ignored") {
		t.Errorf("warnings %q: want count, cpus, role ignored", warns)
	}
}

func TestParsePoolErrors(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(minimal, old, new, 1) }
	tests := []struct {
		name string
		doc  string
		want []string // every field error, "field: message" prefixes
	}{
		{"not a document", `]]`, []string{"not JSON or YAML"}},
		{"scalar", `42`, []string{"the document is a number"}},
		{"empty", ` `, []string{"empty document"}},
		{"no haproxy", `{"name":"web"}`, []string{"haproxy: missing"}},
		{"bad name", edit(`"name":"web"`, `"name":"Web_1"`), []string{`name: "Web_1": want lower-case`}},
		{"unknown fields", edit(`"bindPort":80`, `"bindPort":80,"bindPorts":[1],"tls":true`),
			[]string{"haproxy.frontends[0].bindPorts: unknown field", "haproxy.frontends[0].tls: unknown field"}},
		{"wrong types", edit(`"bindPort":80,"protocol":"HTTP"`, `"bindPort":"80","protocol":7`),
			[]string{"haproxy.frontends[0].bindPort: is a string: want a whole number", "haproxy.frontends[0].protocol: is a number: want a string"}},
		{"fraction", edit(`"bindPort":80`, `"bindPort":80.5`), []string{"haproxy.frontends[0].bindPort: 80.5 is not a whole number"}},
		{"port range", edit(`"bindPort":80`, `"bindPort":70000`), []string{"haproxy.frontends[0].bindPort: 70000 out of range [1, 65535]"}},
		{"unknown backend", edit(`"defaultBackend":"web"`, `"defaultBackend":"nope"`),
			[]string{`haproxy.frontends[0].linkBackend.defaultBackend: backend "nope" does not exist`}},
		{"https without cert", edit(`"protocol":"HTTP","link`, `"protocol":"HTTPS","link`),
			[]string{"haproxy.frontends[0].certificates: missing: a HTTPS frontend needs"}},
		{"tcp frontend to http backend", edit(`"protocol":"HTTP","link`, `"protocol":"TCP","link`),
			[]string{`haproxy.frontends[0].linkBackend.defaultBackend: backend "web" is HTTP: a TCP frontend routes to TCP backends`}},
		{"two selectors", edit(`{"marathon":{"serviceID":"/web"}}`, `{"marathon":{"serviceID":"/web"},"vip":"/web:80"}`),
			[]string{"haproxy.backends[0].services[0]: has 2 selectors"}},
		{"bad vip", edit(`{"marathon":{"serviceID":"/web"}}`, `{"vip":"/web"}`),
			[]string{`haproxy.backends[0].services[0].vip: "/web": missing :port`}},
		{"bad pattern", edit(`{"marathon":{"serviceID":"/web"}}`, `{"mesos":{"frameworkName":"f","taskNamePattern":"(["}}`),
			[]string{`haproxy.backends[0].services[0].mesos.taskNamePattern: "([" is not a regular expression`}},
		{"label without port", edit(`{"marathon":{"serviceID":"/web"}}`, `{"endpointLabel":{"key":"app","value":"web"}}`),
			[]string{"haproxy.backends[0].services[0].endpoint.port: 0 out of range [1, 65535]"}},
		{"duplicate bind", edit(`"frontends":[`, `"frontends":[{"bindPort":80,"protocol":"HTTP","name":"b","linkBackend":{"defaultBackend":"web"}},`),
			[]string{"haproxy.frontends[1].bindPort: 0.0.0.0:80 is also bound by haproxy.frontends[0]"}},
		{"tcp rules", edit(`"protocol":"HTTP","linkBackend":{"defaultBackend":"web"}`, `"protocol":"TCP","linkBackend":{"map":[{"backend":"web"}]}`),
			[]string{"haproxy.frontends[0].linkBackend.map: a TCP frontend has no rules",
				`haproxy.frontends[0].linkBackend.map[0].backend: backend "web" is HTTP`}},
		{"redirect object except", edit(`"protocol":"HTTP",`, `"protocol":"HTTP","redirectToHttps":{"except":[]},`),
			[]string{"haproxy.frontends[0].redirectToHttps.except: unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParsePool([]byte(tt.doc))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if len(ve.Errors) != len(tt.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(ve.Errors), len(tt.want), err)
			}
			for i, w := range tt.want {
				if got := ve.Errors[i].String(); !strings.HasPrefix(got, w) {
					t.Errorf("error %d = %q, want it to start with %q", i, got, w)
				}
			}
		})
	}
}

// TestParsePoolEveryFieldWrong: one document where every field is wrong
// gets one error per field, sorted by field, and nothing else.
func TestParsePoolEveryFieldWrong(t *testing.T) {
	doc := `
apiVersion: V1
name: "-bad-"
extra: 1
haproxy:
  frontends:
  - name: "a b"
    bindAddress: example.com
    bindPort: 0
    protocol: QUIC
    certificates: [relative.pem]
    redirectToHttps: "yes"
    linkBackend:
      defaultBackend: missing
      map:
      - {hostEq: "bad host", pathBeg: nopath, backend: ""}
  backends:
  - name: "x y"
    protocol: UDP
    balance: fastest
    sticky: maybe
    healthCheck: {protocol: ICMP, intervalSeconds: -1, timeoutSeconds: 9999, rise: 101, fall: -2}
    services:
    - marathon: {serviceID: web}
      endpoint: {type: NODE_IP, port: 80}
      weight: 1000
`
	_, _, err := ParsePool([]byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	var fields []string
	for _, fe := range ve.Errors {
		fields = append(fields, fe.Field)
	}
	want := []string{
		"apiVersion", "extra", "haproxy.backends[0].balance", "haproxy.backends[0].healthCheck.fall",
		"haproxy.backends[0].healthCheck.intervalSeconds", "haproxy.backends[0].healthCheck.protocol",
		"haproxy.backends[0].healthCheck.rise", "haproxy.backends[0].healthCheck.timeoutSeconds",
		"haproxy.backends[0].name", "haproxy.backends[0].protocol",
		"haproxy.backends[0].services[0].endpoint.port", "haproxy.backends[0].services[0].endpoint.type",
		"haproxy.backends[0].services[0].marathon.serviceID", "haproxy.backends[0].services[0].weight",
		"haproxy.backends[0].sticky",
		"haproxy.frontends[0].bindAddress", "haproxy.frontends[0].bindPort", "haproxy.frontends[0].certificates[0]",
		"haproxy.frontends[0].linkBackend.defaultBackend", "haproxy.frontends[0].linkBackend.map[0].backend",
		"haproxy.frontends[0].linkBackend.map[0].hostEq", "haproxy.frontends[0].linkBackend.map[0].pathBeg",
		"haproxy.frontends[0].name", "haproxy.frontends[0].protocol", "haproxy.frontends[0].redirectToHttps",
		"name",
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s\n%v", diff, err)
	}
}
