package result

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/overlayd/api"
)

var dualStack = api.Attachment{
	AttachmentID: api.AttachmentID{Network: "dcos", ContainerID: "c1", IfName: "eth0"},
	IPs: []api.IPConfig{
		{Address: "9.0.3.2/24", Gateway: "9.0.3.1"},
		{Address: "fd01:b::3:0:2/80", Gateway: "fd01:b::3:0:1"},
	},
}

// dcnetResult is what the dcnet plugin answers for dualStack.
func dcnetResult(t *testing.T) *current.Result {
	t.Helper()
	ips, err := IPs(dualStack, current.Int(1))
	if err != nil {
		t.Fatal(err)
	}
	return &current.Result{
		Interfaces: []*current.Interface{
			{Name: "veth0123abcd", Mac: "0a:00:01:23:ab:cd"},
			{Name: "eth0", Mac: "0e:00:01:23:ab:cd", Sandbox: "/run/netns/c1"},
		},
		IPs:    ips,
		Routes: DefaultRoutes(ips),
	}
}

func TestWriteVersions(t *testing.T) {
	const (
		v010 = `{"cniVersion":"%s",
		  "ip4":{"ip":"9.0.3.2/24","gateway":"9.0.3.1","routes":[{"dst":"0.0.0.0/0","gw":"9.0.3.1"}]},
		  "ip6":{"ip":"fd01:b::3:0:2/80","gateway":"fd01:b::3:0:1","routes":[{"dst":"::/0","gw":"fd01:b::3:0:1"}]},
		  "dns":{}}`
		v03x = `{"cniVersion":"%s",
		  "interfaces":[{"name":"veth0123abcd","mac":"0a:00:01:23:ab:cd"},{"name":"eth0","mac":"0e:00:01:23:ab:cd","sandbox":"/run/netns/c1"}],
		  "ips":[{"version":"4","interface":1,"address":"9.0.3.2/24","gateway":"9.0.3.1"},
		         {"version":"6","interface":1,"address":"fd01:b::3:0:2/80","gateway":"fd01:b::3:0:1"}],
		  "routes":[{"dst":"0.0.0.0/0","gw":"9.0.3.1"},{"dst":"::/0","gw":"fd01:b::3:0:1"}],
		  "dns":{}}`
		v1xx = `{"cniVersion":"%s",
		  "interfaces":[{"name":"veth0123abcd","mac":"0a:00:01:23:ab:cd"},{"name":"eth0","mac":"0e:00:01:23:ab:cd","sandbox":"/run/netns/c1"}],
		  "ips":[{"interface":1,"address":"9.0.3.2/24","gateway":"9.0.3.1"},
		         {"interface":1,"address":"fd01:b::3:0:2/80","gateway":"fd01:b::3:0:1"}],
		  "routes":[{"dst":"0.0.0.0/0","gw":"9.0.3.1"},{"dst":"::/0","gw":"fd01:b::3:0:1"}]}`
	)
	tests := []struct{ version, want string }{
		{"0.1.0", v010}, {"0.2.0", v010},
		{"0.3.0", v03x}, {"0.3.1", v03x}, {"0.4.0", v03x},
		{"1.0.0", v1xx}, {"1.1.0", v1xx},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, dcnetResult(t), tt.version); err != nil {
				t.Fatalf("Write: %v", err)
			}
			want := strings.Replace(tt.want, "%s", tt.version, 1)
			if diff := cmp.Diff(decodeJSON(t, want), decodeJSON(t, buf.String())); diff != "" {
				t.Errorf("result %s (-want +got):\n%s\ngot %s", tt.version, diff, buf.String())
			}
		})
	}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestIPAMResultVersions(t *testing.T) {
	ips, err := IPs(api.Attachment{IPs: []api.IPConfig{{Address: "9.0.3.2/24", Gateway: "9.0.3.1"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	routes := RoutesFor([]*types.Route{{Dst: mustNet(t, "0.0.0.0/0")}, {Dst: mustNet(t, "::/0")}}, ips)
	res := &current.Result{IPs: ips, Routes: routes}
	tests := []struct{ version, want string }{
		{"0.1.0", `{"cniVersion":"0.1.0","ip4":{"ip":"9.0.3.2/24","gateway":"9.0.3.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{}}`},
		{"0.3.1", `{"cniVersion":"0.3.1","ips":[{"version":"4","address":"9.0.3.2/24","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}`},
		{"1.0.0", `{"cniVersion":"1.0.0","ips":[{"address":"9.0.3.2/24","gateway":"9.0.3.1"}],"routes":[{"dst":"0.0.0.0/0"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, res, tt.version); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if diff := cmp.Diff(decodeJSON(t, tt.want), decodeJSON(t, buf.String())); diff != "" {
				t.Errorf("result %s (-want +got):\n%s", tt.version, diff)
			}
		})
	}
}

func TestIPsErrors(t *testing.T) {
	tests := []struct {
		name string
		ips  []api.IPConfig
		want string
	}{
		{"none", nil, "has no addresses"},
		{"bad address", []api.IPConfig{{Address: "9.0.3.2"}}, `address "9.0.3.2" from overlayd is not a CIDR`},
		{"bad gateway", []api.IPConfig{{Address: "9.0.3.2/24", Gateway: "x"}}, `gateway "x"`},
		{"gateway family", []api.IPConfig{{Address: "9.0.3.2/24", Gateway: "fd01::1"}}, "same family"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := IPs(api.Attachment{AttachmentID: dualStack.AttachmentID, IPs: tt.ips}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	want, err := IPs(dualStack, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		prev []*current.IPConfig
		err  string // "" for a match
	}{
		{"same", dcnetResult(t).IPs, ""},
		{"no gateways in prev", []*current.IPConfig{
			{Address: mustIPNet(t, "9.0.3.2/24")}, {Address: mustIPNet(t, "fd01:b::3:0:2/80")}}, ""},
		{"missing v6", []*current.IPConfig{{Address: mustIPNet(t, "9.0.3.2/24")}}, "lacks fd01:b::3:0:2/80"},
		{"other prefix", []*current.IPConfig{
			{Address: mustIPNet(t, "9.0.3.2/16")}, {Address: mustIPNet(t, "fd01:b::3:0:2/80")}}, "has 9.0.3.2/16 instead of 9.0.3.2/24"},
		{"other gateway", []*current.IPConfig{
			{Address: mustIPNet(t, "9.0.3.2/24"), Gateway: net.ParseIP("9.0.3.254")}, {Address: mustIPNet(t, "fd01:b::3:0:2/80")}},
			"has gateway 9.0.3.254 instead of 9.0.3.1"},
		{"extra", append(dcnetResult(t).IPs, &current.IPConfig{Address: mustIPNet(t, "9.0.3.9/24")}),
			"has 9.0.3.9/24, which overlayd did not allocate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Match(&current.Result{IPs: tt.prev}, want)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Match: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("Match: got %v, want an error containing %q", err, tt.err)
			}
		})
	}
}

func TestDefaultRoutesV4Only(t *testing.T) {
	ips, err := IPs(api.Attachment{IPs: []api.IPConfig{{Address: "9.0.3.2/24", Gateway: "9.0.3.1"}, {Address: "fd01::2/64"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := DefaultRoutes(ips)
	want := []*types.Route{{Dst: mustNet(t, "0.0.0.0/0"), GW: net.ParseIP("9.0.3.1").To4()}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DefaultRoutes (-want +got):\n%s", diff)
	}
}

func mustNet(t *testing.T, s string) net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return *n
}

func mustIPNet(t *testing.T, s string) net.IPNet {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return net.IPNet{IP: normalize(ip), Mask: n.Mask}
}
