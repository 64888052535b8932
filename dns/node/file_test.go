package node

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/internal/dnstest"
)

// nodeAddrs stands in for the node's interfaces: eth0 (the underlay) and
// lo; with iface "eth0" only eth0's.
func nodeAddrs(iface string) ([]netip.Addr, error) {
	switch iface {
	case "":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.18.0.5"), netip.MustParseAddr("9.0.1.1")}, nil
	case "eth0":
		return []netip.Addr{netip.MustParseAddr("198.18.0.5")}, nil
	}
	return nil, errors.New("no such interface")
}

func fromFile(t *testing.T, doc string) (Config, error) {
	t.Helper()
	f, err := DecodeFile(strings.NewReader(doc))
	if err != nil {
		return Config{}, err
	}
	return ConfigFromFile(f, nodeAddrs)
}

// TestShippedDCOSDNS loads conf/dns/dcos-dns.json (DC/OS's
// /opt/mesosphere/etc/dcos-dns.json): without bind_ips dcos-dns serves
// 198.51.100.1-3 and every address of the node.
func TestShippedDCOSDNS(t *testing.T) {
	c, err := LoadConfigFile("../../conf/dns/dcos-dns.json")
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(c.DNS.Upstreams, []string{"169.254.169.253"}) || c.DNS.ForwardZones != nil {
		t.Errorf("config %+v", c.DNS)
	}
	for _, l := range []string{"198.51.100.1:53", "198.51.100.2:53", "198.51.100.3:53"} {
		if !strings.Contains(strings.Join(c.DNS.Listen, ","), l) {
			t.Errorf("listen %v lacks %s", c.DNS.Listen, l)
		}
	}
	// The same file on the test's node.
	f, err := DecodeFile(strings.NewReader(`{"upstream_resolvers": ["169.254.169.253"], "udp_port": 53, "tcp_port": 53, "forward_zones": {}, "bind_ip_blacklist": []}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err = ConfigFromFile(f, nodeAddrs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"9.0.1.1:53", "127.0.0.1:53", "198.18.0.5:53", "198.51.100.1:53", "198.51.100.2:53", "198.51.100.3:53"}
	if d := cmp.Diff(want, c.DNS.Listen); d != "" {
		t.Errorf("listen -want +got:\n%s", d)
	}
}

func TestConfigFromFile(t *testing.T) {
	for _, tt := range []struct {
		name, doc string
		check     func(t *testing.T, c Config)
		err       string
	}{
		{name: "bind ips and port", doc: `{"bind_ips": ["198.51.100.1", "10.0.0.5"], "udp_port": 5353, "tcp_port": 5353}`,
			check: func(t *testing.T, c Config) {
				if d := cmp.Diff([]string{"10.0.0.5:5353", "198.51.100.1:5353"}, c.DNS.Listen); d != "" {
					t.Error(d)
				}
			}},
		{name: "blacklist and interface", doc: `{"bind_interface": "eth0", "bind_ip_blacklist": ["198.51.100.2"]}`,
			check: func(t *testing.T, c Config) {
				if d := cmp.Diff([]string{"198.18.0.5:53", "198.51.100.1:53", "198.51.100.3:53"}, c.DNS.Listen); d != "" {
					t.Error(d)
				}
			}},
		{name: "forward zones, object", doc: `{"forward_zones": {"b.contoso.com": ["3.3.3.3", "4.4.4.4:53"], "a.contoso.com": ["1.1.1.1:53", "2.2.2.2"]}}`,
			check: func(t *testing.T, c Config) {
				want := []resolver.ForwardZone{{Zone: "a.contoso.com.", Servers: []string{"1.1.1.1:53", "2.2.2.2"}}, {Zone: "b.contoso.com.", Servers: []string{"3.3.3.3", "4.4.4.4:53"}}}
				if d := cmp.Diff(want, c.DNS.ForwardZones); d != "" {
					t.Error(d)
				}
			}},
		{name: "forward zones, pairs", doc: `{"forward_zones": [["a.contoso.com", ["1.1.1.1:53"]]]}`,
			check: func(t *testing.T, c Config) {
				if d := cmp.Diff([]resolver.ForwardZone{{Zone: "a.contoso.com.", Servers: []string{"1.1.1.1:53"}}}, c.DNS.ForwardZones); d != "" {
					t.Error(d)
				}
			}},
		{name: "mesos resolvers and handler limit", doc: `{"mesos_resolvers": ["10.0.0.1", "10.0.0.2:61053"], "handler_limit": 1024}`,
			check: func(t *testing.T, c Config) {
				if d := cmp.Diff([]string{"10.0.0.1", "10.0.0.2:61053"}, c.DNS.MesosDNS); d != "" {
					t.Error(d)
				}
			}},
		{name: "unknown field", doc: `{"upstreams": ["8.8.8.8"]}`, err: `field "upstreams": unknown (dcos-dns reads upstream_resolvers`},
		{name: "case matters, as in dcos-dns", doc: `{"UDP_PORT": 53}`, err: `field "UDP_PORT": unknown`},
		{name: "wrong type", doc: `{"udp_port": "53"}`, err: `field "udp_port": got JSON string, want int`},
		{name: "bad upstream", doc: `{"upstream_resolvers": ["dns.example"]}`, err: `field "upstream_resolvers"`},
		{name: "bad zone", doc: `{"forward_zones": {"a.com": ["x"]}}`, err: `forward zone "a.com."`},
		{name: "bad zone form", doc: `{"forward_zones": 3}`, err: `field "forward_zones": want`},
		{name: "bad pair", doc: `{"forward_zones": [["a.com"]]}`, err: `entry 0`},
		{name: "ports differ", doc: `{"udp_port": 53, "tcp_port": 5353}`, err: `"udp_port" 53 and "tcp_port" 5353`},
		{name: "port range", doc: `{"udp_port": 0}`, err: `"udp_port" 0: out of range`},
		{name: "udp off", doc: `{"udp_server_enabled": false}`, err: "always serves UDP and TCP"},
		{name: "bad bind ip", doc: `{"bind_ips": ["198.51.100.256"]}`, err: `field "bind_ips": address "198.51.100.256"`},
		{name: "no such interface", doc: `{"bind_interface": "eth9"}`, err: "no such interface"},
		{name: "all blacklisted", doc: `{"bind_ips": ["10.0.0.5"], "bind_ip_blacklist": ["10.0.0.5"]}`, err: "no address left"},
		{name: "not an object", doc: `["x"]`, err: "got JSON array, want an object"},
		{name: "trailing data", doc: `{} {}`, err: "unexpected data after the JSON object"},
		{name: "empty", doc: ``, err: "empty file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := fromFile(t, tt.doc)
			dnstest.WantErr(t, err, tt.err)
			if err == nil && tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestRestricted(t *testing.T) {
	listen := []string{"198.51.100.1:53", "198.51.100.2:53", "127.0.0.1:53", "[::1]:53", "198.18.0.5:53", "0.0.0.0:53", "[fd01:d::c633:6401]:53"}
	onLink := []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("fd01:d::c633:6401")}
	if d := cmp.Diff([]string{"198.18.0.5:53", "0.0.0.0:53"}, restricted(listen, onLink)); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	// No spartan link: only loopback is a cluster address.
	if d := cmp.Diff([]string{"198.51.100.1:53", "198.51.100.2:53", "198.18.0.5:53", "0.0.0.0:53", "[fd01:d::c633:6401]:53"}, restricted(listen, nil)); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

func TestServerIPs(t *testing.T) {
	got := serverIPs([]string{"10.0.0.1", "10.0.0.2:61053", "[fd01::3]:61053", "10.0.0.1:61053", "nope"})
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd01::3")}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

// FuzzDecodeFile: any input decodes or is refused with an error, and
// nothing decoded panics ConfigFromFile.
func FuzzDecodeFile(f *testing.F) {
	for _, s := range []string{`{}`, `{"forward_zones":{"a":["1.1.1.1"]}}`, `{"forward_zones":[["a",["1.1.1.1:53"]]]}`,
		`{"bind_ips":["10.0.0.1"],"udp_port":53,"tcp_port":53}`, `{"bind_interface":"eth0"}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		file, err := DecodeFile(strings.NewReader(string(doc)))
		if err != nil {
			return
		}
		if c, err := ConfigFromFile(file, nodeAddrs); err == nil && len(c.DNS.Listen) == 0 {
			t.Fatal("a config without listen addresses")
		}
	})
}
