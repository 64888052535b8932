package node

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/spartan"
	"github.com/dcnet/dcnet/internal/dnstest"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if diff := cmp.Diff([]string{"198.51.100.1:53", "198.51.100.2:53", "198.51.100.3:53"}, c.DNS.Listen); diff != "" {
		t.Errorf("listen (-want +got):\n%s", diff)
	}
	if c.HTTPAddr != dnsapi.DefaultAddr || c.SpartanLink != spartan.DefaultLink || c.L4LBAddr != l4lbapi.DefaultAddr {
		t.Errorf("defaults: http %q spartan %q l4lb %q", c.HTTPAddr, c.SpartanLink, c.L4LBAddr)
	}
	if c.Mesos.Enabled() || len(c.Etcd) > 0 {
		t.Error("a Mesos state or etcd by default")
	}
	want := resolver.DefaultConfig()
	want.Listen = c.DNS.Listen
	if diff := cmp.Diff(want, c.DNS); diff != "" {
		t.Errorf("query path defaults (-want +got):\n%s", diff)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("DefaultConfig invalid: %v", err)
	}
	c.DNS.Listen[0] = "changed"
	if DefaultConfig().DNS.Listen[0] == "changed" {
		t.Error("DefaultConfig shares its listen slice")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"empty addresses are none", func(c *Config) { c.HTTPAddr, c.SpartanLink, c.L4LBAddr = "", "", "" }, ""},
		{"bad listen", func(c *Config) { c.DNS.Listen = []string{"nowhere"} }, `listen "nowhere"`},
		{"bad node ip", func(c *Config) { c.NodeIPs = []string{"10.0.0.300"} }, `node ip "10.0.0.300"`},
		{"bad cname", func(c *Config) { c.CNAMEs = []CNAME{{Name: "a.b", Target: "a.b."}} }, `cname "a.b=a.b.": name and target are the same`},
		{"bad mesos", func(c *Config) { c.Mesos.Refresh = -1 }, "refresh -1ns: must not be negative"},
		{"negative sockets", func(c *Config) { c.DNS.Sockets = -2 }, "sockets -2: out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			dnstest.WantErr(t, c.Validate(), tc.want)
		})
	}
}

func TestParseCNAME(t *testing.T) {
	c, err := ParseCNAME(" Registry.Component.thisdcos.directory = master.mesos ")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(CNAME{Name: "registry.component.thisdcos.directory.", Target: "master.mesos."}, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	z := CNAME{Name: "Reg.Example", Target: "master.mesos"}.Zone()
	if z.Name() != "reg.example." {
		t.Errorf("zone name %q", z.Name())
	}
	if rrs, _ := z.Lookup("reg.example.", 1); len(rrs) != 1 || rrs[0].String() != "reg.example.\t5\tIN\tCNAME\tmaster.mesos." {
		t.Errorf("zone records %v", rrs)
	}
}
