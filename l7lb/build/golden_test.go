package build

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	mrand "math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/mesos"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/marathon"
	"github.com/dcnet/dcnet/l7lb/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenIn is one test input: the mode's options and the sources' views.
type goldenIn struct {
	MarathonLB *struct {
		Groups     []string `json:"groups"`
		StrictMode bool     `json:"strictMode"`
		SSLCerts   []string `json:"sslCerts"`
		NoHTTPS    bool     `json:"noHTTPS"`
	} `json:"marathonlb"`
	Pool      json.RawMessage    `json:"pool"`
	Apps      []marathon.App     `json:"apps"`
	Tasks     []mesos.Summary    `json:"tasks"`
	VIPs      []vip.Binding      `json:"vips"`
	Endpoints []cluster.Endpoint `json:"endpoints"`
}

// testCert is a self-signed certificate and its key in one PEM file.
func testCert(t testing.TB, host string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})...)
}

// testFiles serves generated certificates and a bad one.
func testFiles(t testing.TB) func(string) ([]byte, error) {
	files := map[string][]byte{
		"/etc/ssl/cert.pem": testCert(t, "default.example.com"),
		"/etc/ssl/shop.pem": testCert(t, "shop.example.com"),
		"/etc/ssl/bad.pem":  []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"),
	}
	return func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

func buildGolden(t *testing.T, in goldenIn, read func(string) ([]byte, error)) Output {
	t.Helper()
	for i := range in.Apps {
		for j := range in.Apps[i].Tasks {
			task := &in.Apps[i].Tasks[j]
			task.HostIP, _ = netip.ParseAddr(task.Host)
		}
	}
	inputs := Inputs{Apps: in.Apps, Tasks: in.Tasks, VIPs: in.VIPs, Endpoints: in.Endpoints, ReadFile: read}
	if in.MarathonLB != nil {
		o := DefaultMarathonLB()
		o.Groups, o.StrictMode, o.SSLCerts, o.SelfID = in.MarathonLB.Groups, in.MarathonLB.StrictMode, in.MarathonLB.SSLCerts, "/marathon-lb"
		if in.MarathonLB.NoHTTPS {
			o.HTTPS = netip.AddrPort{}
		}
		return BuildMarathonLB(inputs, o)
	}
	p, _, err := l7lbapi.ParsePool(in.Pool)
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	return BuildPool(p, inputs)
}

// goldenConfig is a Config as the golden files show it: binds as
// HAProxy writes them ("*:80"; netip.AddrPort's JSON drops the port of
// an every-address bind).
type goldenConfig struct {
	Frontends []goldenFrontend `json:"frontends"`
	Backends  []model.Backend  `json:"backends"`
	Problems  []model.Problem  `json:"problems,omitempty"`
}

type goldenFrontend struct {
	model.Frontend
	Bind string `json:"bind"`
}

func toGolden(c model.Config) goldenConfig {
	g := goldenConfig{Backends: c.Backends, Problems: c.Problems}
	for _, f := range c.Frontends {
		g.Frontends = append(g.Frontends, goldenFrontend{Frontend: f, Bind: model.BindString(f.Bind)})
	}
	return g
}

// TestGolden builds every testdata/*.in.json and compares the Config
// (and the notes) with testdata/*.golden.json; -update rewrites them.
// Each build is repeated with the inputs shuffled: the output must not
// depend on the sources' order.
func TestGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.json")
	if len(ins) == 0 {
		t.Fatal("no testdata/*.in.json")
	}
	read := testFiles(t)
	for _, path := range ins {
		name := strings.TrimSuffix(filepath.Base(path), ".in.json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var in goldenIn
			if err := json.Unmarshal(data, &in); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out := buildGolden(t, in, read)
			got, _ := json.MarshalIndent(struct {
				Config goldenConfig        `json:"config"`
				Notes  map[string][]string `json:"notes,omitempty"`
			}{toGolden(out.Config), out.Notes}, "", "  ")
			got = append(got, '\n')
			golden := "testdata/" + name + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
			var shuffled goldenIn
			json.Unmarshal(data, &shuffled)
			r := mrand.New(mrand.NewSource(7))
			r.Shuffle(len(shuffled.Apps), func(i, j int) { shuffled.Apps[i], shuffled.Apps[j] = shuffled.Apps[j], shuffled.Apps[i] })
			r.Shuffle(len(shuffled.Tasks), func(i, j int) { shuffled.Tasks[i], shuffled.Tasks[j] = shuffled.Tasks[j], shuffled.Tasks[i] })
			r.Shuffle(len(shuffled.Endpoints), func(i, j int) {
				shuffled.Endpoints[i], shuffled.Endpoints[j] = shuffled.Endpoints[j], shuffled.Endpoints[i]
			})
			for i := range shuffled.Apps {
				ts := shuffled.Apps[i].Tasks
				r.Shuffle(len(ts), func(a, b int) { ts[a], ts[b] = ts[b], ts[a] })
			}
			if in.MarathonLB == nil { // Marathon-LB mode decides conflicts by app ID, the pool by order
				again := buildGolden(t, shuffled, read)
				if diff := cmp.Diff(out.Config, again.Config, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
					t.Errorf("shuffled inputs give another config:\n%s", diff)
				}
			}
		})
	}
}

// TestCertContents: the certificates' PEM (not in the golden files)
// reaches the Config, so a renewal changes the Config.
func TestCertContents(t *testing.T) {
	read := testFiles(t)
	in := Inputs{ReadFile: read, Apps: []marathon.App{{ID: "/a", Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "a.example.com"},
		PortDefinitions: []marathon.PortDefinition{{Port: 10000}}}}}
	o := DefaultMarathonLB()
	o.SSLCerts = []string{"/etc/ssl/cert.pem"}
	out := BuildMarathonLB(in, o)
	want, _ := read("/etc/ssl/cert.pem")
	for _, f := range out.Config.Frontends {
		if f.Name == HTTPSFrontend {
			if len(f.TLS.Certs) != 1 || !bytes.Equal(f.TLS.Certs[0].PEM, want) || f.TLS.Certs[0].Name != "etc_ssl_cert.pem" {
				t.Fatalf("https certs %+v", f.TLS.Certs)
			}
			return
		}
	}
	t.Fatal(fmt.Sprintf("no %s frontend: %+v", HTTPSFrontend, out.Config.Frontends))
}
