package doctor

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/overlayd/api"
)

// The healthy node of the tests: a2 of a two-node cluster with one
// dual-stack overlay, its peer a1, and dcnet-l4lb's VIPs matching
// testdata/nft-ip.json and nft-ip6.json.

func healthyStatus() api.Status {
	return api.Status{
		Node: "a2", UnderlayIP: "198.18.0.3", Store: "http://198.18.0.1:2379", StoreOK: true,
		StoreEndpoints: []string{"http://198.18.0.1:2379"},
		Networks: []api.Network{{Name: "dcos", Bridge: "m-dcos", MTU: 1420, Subnet: "9.0.0.0/8", Subnet6: "fd01:b::/64",
			NodeSubnet: "9.0.2.0/24", Gateway: "9.0.2.1", NodeSubnet6: "fd01:b::1:0:0:0/80", Gateway6: "fd01:b::1:0:0:1"}},
		Attachments: 1,
		VTEP: api.VTEP{Device: "vtep1024", VNI: 1024, Port: 64000, IP: "44.128.0.2", IP6: "fd01:a::2",
			MAC: "70:b3:d5:80:00:02", MTU: 1450},
	}
}

func healthyPeers() []api.Peer {
	return []api.Peer{{Name: "a1", UnderlayIP: "198.18.0.2", VTEPIP: "44.128.0.1", VTEPIP6: "fd01:a::1",
		VTEPMAC: "70:b3:d5:80:00:01", Subnets: []string{"9.0.1.0/24", "fd01:b::/80"}}}
}

func healthyVTEP() Link {
	return Link{Name: "vtep1024", Kind: "vxlan", Up: true, MTU: 1450, MAC: "70:b3:d5:80:00:02",
		Addrs: []netip.Prefix{netip.MustParsePrefix("44.128.0.2/20"), netip.MustParsePrefix("fd01:a::2/64"),
			netip.MustParsePrefix("fe80::72b3:d5ff:fe80:2/64")},
		VNI: 1024, Port: 64000, Local: netip.MustParseAddr("198.18.0.3")}
}

func healthyBridge() Link {
	return Link{Name: "m-dcos", Kind: "bridge", Up: true, MTU: 1420, MAC: "0a:58:09:00:02:01", Ports: 1,
		Addrs: []netip.Prefix{netip.MustParsePrefix("9.0.2.1/24"), netip.MustParsePrefix("fd01:b::1:0:0:1/80"),
			netip.MustParsePrefix("fe80::858:9ff:fe00:201/64")}}
}

func healthyAttachments() []api.Attachment {
	return []api.Attachment{{AttachmentID: api.AttachmentID{Network: "dcos", ContainerID: "c1", IfName: "eth0"},
		IPs:    []api.IPConfig{{Address: "9.0.2.2/24", Gateway: "9.0.2.1"}, {Address: "fd01:b::1:0:0:2/80", Gateway: "fd01:b::1:0:0:1"}},
		Labels: map[string]string{"VIP_0": "/web:80"}, Runtime: "cni",
		PortMappings: []api.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}}}
}

// healthyVIPs are dcnet-l4lb's VIPs whose tables are testdata/nft-*.json.
func healthyVIPs() []l4lbapi.VIPInfo {
	b := func(ip string, active, draining bool) l4lbapi.BackendInfo {
		return l4lbapi.BackendInfo{IP: ip, Port: 80, Node: "a1", Active: active, Draining: draining}
	}
	return []l4lbapi.VIPInfo{
		{VIP: "11.0.0.1:80", Protocol: "tcp", Port: 80, Name: "web.marathon.l4lb.thisdcos.directory", Address: "11.0.0.1",
			Backends: []l4lbapi.BackendInfo{b("9.0.1.3", true, false), b("9.0.1.2", true, false), b("9.0.1.4", true, true), b("9.0.1.5", false, false)}},
		{VIP: "11.0.0.1:80", Protocol: "udp", Port: 80, Name: "web.marathon.l4lb.thisdcos.directory", Address: "11.0.0.1",
			Backends: []l4lbapi.BackendInfo{b("9.0.1.2", true, false)}},
		{VIP: "11.0.0.2:80", Protocol: "tcp", Port: 80, Address: "11.0.0.2", Backends: []l4lbapi.BackendInfo{}},
		{VIP: "[fd01:c::5]:80", Protocol: "tcp", Port: 80, Name: "web.marathon.l4lb.thisdcos.directory", Address: "fd01:c::5",
			Backends: []l4lbapi.BackendInfo{b("fd01:b::2", true, false)}},
	}
}

func readTable(t *testing.T, family string) NFTTable {
	t.Helper()
	data, err := os.ReadFile("testdata/nft-" + family + ".json")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := ParseNFT(family, data)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// lines renders a check's findings as "kind object" lines, sorted.
func lines(c Check) []string {
	out := []string{}
	for _, f := range c.Findings {
		out = append(out, string(f.Kind)+" "+f.Object)
	}
	slices.Sort(out)
	return out
}

// wantLines checks c's findings and status (failed iff a finding is more
// than a note).
func wantLines(t *testing.T, c Check, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	slices.Sort(want)
	if got := lines(c); !slices.Equal(got, want) {
		t.Errorf("%s: %s findings:\n  %s\nwant:\n  %s", c.Component, c.Name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	failing := slices.ContainsFunc(want, func(l string) bool { return !strings.HasPrefix(l, "note ") })
	if (c.Status == Failed) != failing {
		t.Errorf("%s: %s status %s with findings %v", c.Component, c.Name, c.Status, want)
	}
	for _, f := range c.Findings {
		if f.Command == "" {
			t.Errorf("%s: %s: finding %q has no command", c.Component, c.Name, f.Object)
		}
	}
}
