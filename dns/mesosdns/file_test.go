package mesosdns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/internal/dnstest"
)

func decode(t *testing.T, doc string) (dnsapi.MesosConfig, []string, error) {
	t.Helper()
	return DecodeConfig(strings.NewReader(doc))
}

// TestDecodeConfigDefaults: an empty object is Mesos-DNS's defaults.
func TestDecodeConfigDefaults(t *testing.T) {
	mc, ignored, err := decode(t, `{}`)
	if err != nil || len(ignored) > 0 {
		t.Fatal(err, ignored)
	}
	if d := cmp.Diff(dnsapi.DefaultMesosConfig(), mc); d != "" {
		t.Errorf("-defaults +decoded:\n%s", d)
	}
	want := map[string]any{"IPSources": []string{"netinfo", "mesos", "host"}, "EnforceRFC952": false, "Domain": "mesos",
		"SOAMname": "ns1.mesos", "SOARname": "root.ns1.mesos", "TTL": int32(60), "RefreshSeconds": 60, "Port": 53,
		"HttpPort": 8123, "Listener": "0.0.0.0", "StateTimeoutSeconds": 300, "Timeout": 5, "ZkDetectionTimeout": 30}
	got := map[string]any{"IPSources": mc.IPSources, "EnforceRFC952": mc.EnforceRFC952, "Domain": mc.Domain,
		"SOAMname": mc.SOAMname, "SOARname": mc.SOARname, "TTL": mc.TTL, "RefreshSeconds": mc.RefreshSeconds, "Port": mc.Port,
		"HttpPort": mc.HTTPPort, "Listener": mc.Listener, "StateTimeoutSeconds": mc.StateTimeoutSeconds, "Timeout": mc.Timeout,
		"ZkDetectionTimeout": mc.ZkDetectionTimeout}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Mesos-DNS's documented defaults -want +got:\n%s", d)
	}
}

// TestDecodeConfigCase: field names match without regard to letter case,
// as Go's encoding/json matches them for Mesos-DNS (its own sample writes
// "httpon", "refreshSeconds", "SOAMname").
func TestDecodeConfigCase(t *testing.T) {
	mc, ignored, err := decode(t, `{"httpon": false, "DNSON": true, "refreshSeconds": 7, "ttl": 9, "httpport": 1,
		"masters": ["10.0.0.1:5050"], "ZK": "zk://h:2181/mesos", "ipsources": ["host"], "enforcerfc952": true,
		"mesoscredentials": {"PRINCIPAL": "p", "secret": "s"}, "ns": "ns1", "Email": "root.mesos-dns.mesos", "Timeout": null}`)
	if err != nil {
		t.Fatal(err)
	}
	if mc.HTTPOn || !mc.DNSOn || mc.RefreshSeconds != 7 || mc.TTL != 9 || mc.HTTPPort != 1 || mc.Zk != "zk://h:2181/mesos" ||
		!cmp.Equal(mc.IPSources, []string{"host"}) || !mc.EnforceRFC952 || mc.MesosCredentials != (dnsapi.MesosCredentials{Principal: "p", Secret: "s"}) ||
		mc.Timeout != 5 {
		t.Errorf("decoded %+v", mc)
	}
	if d := cmp.Diff([]string{"Email", "ns"}, ignored); d != "" {
		t.Errorf("ignored -want +got:\n%s", d)
	}
}

func TestDecodeConfigErrors(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{``, "empty file"},
		{`[]`, "got JSON array, want an object"},
		{`null`, "not a JSON object"},
		{`{"TTL": 60`, "truncated JSON"},
		{`{"TTL": 60} {}`, "unexpected data after the JSON object"},
		{`{"TTL": "60"}`, `field "TTL": got JSON string, want an integer`},
		{`{"DnsOn": 1}`, `field "DnsOn": got JSON number, want true or false`},
		{`{"Masters": "10.0.0.1:5050"}`, `field "Masters": got JSON string, want an array of strings`},
		{`{"SOARefresh": -1}`, `field "SOARefresh": got JSON number -1, want a non-negative integer`},
		{`{"Listner": "0.0.0.0"}`, `field "Listner": unknown (the fields are Mesos-DNS's: RefreshSeconds, Port`},
		{`{"MesosCredentials": {"User": "x"}}`, `field "MesosCredentials.User": unknown`},
		{`{"MesosCredentials": 3}`, `field "MesosCredentials": got JSON number, want an object`},
	} {
		_, _, err := decode(t, tt.doc)
		dnstest.WantErr(t, err, tt.want)
	}
}

// TestConfigFromFileChecks: Mesos-DNS's start-up checks, each an error
// naming the field.
func TestConfigFromFileChecks(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`{"Masters": ["10.0.0.1:5050"]}`, ""},
		{`{"DnsOn": false, "HttpOn": false}`, "DnsOn and HttpOn both false"},
		{`{"Masters": ["10.0.0.1"]}`, `Masters "10.0.0.1": want host:port`},
		{`{"Masters": ["10.0.0.1:5050", "10.0.0.1:5050"]}`, "listed twice"},
		{`{"Masters": ["m1:0"]}`, "port out of range"},
		{`{"Resolvers": ["dns.example"]}`, `Resolvers "dns.example": want an IP address`},
		{`{"ExternalOn": false, "Resolvers": ["dns.example"]}`, ""},
		{`{"ZoneResolvers": {"corp": []}}`, `ZoneResolvers "corp": no resolver`},
		{`{"ZoneResolvers": {"mesos": ["10.0.0.9"]}}`, "the Mesos domain cannot be forwarded"},
		{`{"ZoneResolvers": {"a.corp": ["10.0.0.9"], "corp": ["10.0.0.8"]}}`, `"a.corp" is masked by "corp"`},
		{`{"IPSources": []}`, "IPSources []"},
		{`{"IPSources": ["host", "host"]}`, "IPSources"},
		{`{"IPSources": ["rkt"]}`, "IPSources"},
		{`{"StateTimeoutSeconds": 0}`, "StateTimeoutSeconds 0: must be at least 1"},
		{`{"RefreshSeconds": 0}`, "RefreshSeconds 0"},
		{`{"Domain": "bad_domain"}`, `Domain "bad_domain"`},
		{`{"Listener": "any"}`, `Listener "any": want an IP address`},
		{`{"Port": 70000}`, "Port 70000: out of range"},
		{`{"CertFile": "c.pem"}`, "give both or neither"},
		{`{"MesosAuthentication": "iam"}`, "IAM is not supported"},
		{`{"MesosAuthentication": "basic"}`, "Principal is empty"},
		{`{"MesosAuthentication": "kerberos"}`, `MesosAuthentication "kerberos"`},
	} {
		mc, _, err := decode(t, tt.doc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ConfigFromFile(mc)
		dnstest.WantErr(t, err, tt.want)
	}
}

// TestShippedConfig loads conf/dns/mesos-dns.json (DC/OS's
// /opt/mesosphere/etc/mesos-dns.json) and checks what is in force.
func TestShippedConfig(t *testing.T) {
	c, ignored, err := LoadConfigFile("../../conf/dns/mesos-dns.json")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"email"}, ignored); d != "" {
		t.Errorf("ignored -want +got:\n%s", d)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Mesos.Zk != "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181,zk-4.zk:2181,zk-5.zk:2181/mesos" || c.Mesos.Refresh != 30*time.Second ||
		!cmp.Equal(c.DNS.Listen, []string{"0.0.0.0:61053"}) || c.HTTPAddr != "0.0.0.0:8123" ||
		!cmp.Equal(c.Mesos.Records.IPSources, []string{"host", "netinfo"}) || c.Mesos.Listener != "0.0.0.0" ||
		c.Mesos.Records.SOAMname != "ns1.mesos." || c.DNS.ClearTruncated || c.Mesos.Timeout != 300*time.Second {
		t.Errorf("config %+v", c)
	}
	want := server.Authority{TTL: 60, Mname: "ns1.mesos.", Rname: "root.ns1.mesos.", Refresh: 60, Retry: 600, Expire: 86400, SRVWeight: 1}
	if d := cmp.Diff(want, c.Zone); d != "" {
		t.Errorf("zone -want +got:\n%s", d)
	}
	mc := c.MesosConfig()
	if mc.TTL != 60 || mc.SOAMname != "ns1.mesos." || mc.SOARname != "root.ns1.mesos." || mc.RefreshSeconds != 30 || mc.Port != 61053 ||
		mc.HTTPPort != 8123 || !cmp.Equal(mc.Resolvers, []string{"169.254.169.253"}) || mc.Domain != "mesos" || !mc.SetTruncateBit ||
		!strings.HasSuffix(mc.File, "conf/dns/mesos-dns.json") || mc.Zk != c.Mesos.Zk || mc.SOAMinttl != 60 || mc.SRVRecordDefaultWeight != 1 {
		t.Errorf("/v1/config %+v", mc)
	}
}

// TestConfigFileIsInForce: a file's settings reach the Config (and
// /v1/config), its defaults too.
func TestConfigFileIsInForce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	doc := `{"masters": ["10.0.0.1:5050", "10.0.0.2:5050"], "domain": "Cluster", "port": 5353, "listener": "127.0.0.1",
		"httpon": false, "externalon": false, "RecurseOn": false, "SetTruncateBit": false, "EnumerationOn": false,
		"ZoneResolvers": {"corp": ["10.9.0.1"]}, "SOARname": "admin@cluster", "SRVRecordDefaultWeight": 3,
		"MesosHTTPSOn": true, "MesosAuthentication": "basic", "MesosCredentials": {"Principal": "dns", "Secret": "pw"}}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ZoneName() != "cluster." || !cmp.Equal(c.DNS.Listen, []string{"127.0.0.1:5353"}) || c.HTTPAddr != "" || !c.DNS.NoForward ||
		!c.Zone.NoRecursionAvailable || !c.DNS.ClearTruncated || !c.NoEnumeration || c.DNS.ForwardZones != nil ||
		c.Zone.Rname != "admin.cluster." || c.Zone.SRVWeight != 3 || !c.Mesos.HTTPS || c.Mesos.Principal != "dns" || c.Mesos.Secret != "pw" ||
		!cmp.Equal(c.Mesos.Records.Masters, []string{"10.0.0.1:5050", "10.0.0.2:5050"}) {
		t.Errorf("config %+v", c)
	}
	mc := c.MesosConfig()
	if mc.MesosCredentials.Secret != "******" || mc.MesosAuthentication != "basic" || mc.RecurseOn || mc.ExternalOn || mc.HTTPOn ||
		mc.EnumerationOn || mc.SetTruncateBit || mc.Domain != "cluster" || mc.Port != 5353 || !mc.MesosHTTPSOn {
		t.Errorf("/v1/config %+v", mc)
	}
	// ExternalOn true: zone resolvers are forwarded zones.
	doc = `{"masters": ["10.0.0.1:5050"], "ZoneResolvers": {"corp": ["10.9.0.1", "10.9.0.2:5353"]}, "resolvers": []}`
	mc2, _, _ := decode(t, doc)
	c, err = ConfigFromFile(mc2)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]resolver.ForwardZone{{Zone: "corp.", Servers: []string{"10.9.0.1", "10.9.0.2:5353"}}}, c.DNS.ForwardZones); d != "" || len(c.DNS.Upstreams) != 0 {
		t.Errorf("zones -want +got:\n%s\nupstreams %v (want none: resolv.conf)", d, c.DNS.Upstreams)
	}
}

// FuzzDecodeConfig: any input decodes or is refused with an error;
// nothing decoded panics ConfigFromFile or Validate, and a Config that
// passes both reports a /v1/config.
func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"masters":["10.0.0.1:5050"],"zk":"zk://h/mesos"}`, `{"MesosCredentials":{"principal":"x"}}`,
		`{"ZoneResolvers":{"a":["1.1.1.1"]},"IPSources":["docker"]}`, `{"TTL":-1}`, `[1]`, `{"Listener":"::"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		mc, _, err := DecodeConfig(strings.NewReader(string(doc)))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		c, err := ConfigFromFile(mc)
		if err != nil {
			return
		}
		if c.Validate() == nil {
			_ = c.MesosConfig()
		}
	})
}
